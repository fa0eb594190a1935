using System.Formats.Tar;
using System.Text.Json;
using Img.TestSupport;

namespace Img.IntegrationTests;

/// <summary>ls, tag, rm, inspect, save, load and import on a real state directory, as the test user.</summary>
public sealed class LocalImageTests
{
    private readonly ImgCli _img = new();

    private async Task<string> ImportBusyboxAsync(string name)
    {
        var tar = await BusyboxRootfs.TarballAsync();
        var r = await _img.RunAsync("import", "-m", "busybox from Debian", tar, name);
        Assert.Matches("^sha256:[0-9a-f]{64}\n$", r.Stdout);
        return r.Stdout.Trim();
    }

    [Fact]
    public async Task ImportedImageIsListedWithSizeAgeAndDigest()
    {
        var digest = await ImportBusyboxAsync("busybox");
        var ls = await _img.RunAsync("ls");
        var lines = ls.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("NAME\t\t\t\t\tSIZE\t\tCREATED AT\t\tUPDATED AT\t\tDIGEST", lines[0]);
        var cells = lines[1].Split('\t', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("docker.io/library/busybox:latest", cells[0]);
        Assert.Matches(@"^\d+(\.\d+)?(KiB|MiB)$", cells[1]);
        Assert.Matches("^(Less than a second|\\d+ seconds?) ago$", cells[2]);
        Assert.Equal(digest, cells[4]);
    }

    [Fact]
    public async Task TagRmAndFilters()
    {
        await ImportBusyboxAsync("tagthing");
        var tag = await _img.RunAsync("tag", "tagthing", "jess/tagtest");
        Assert.Equal("Successfully tagged tagthing as jess/tagtest\n", tag.Stdout);
        var ls = await _img.RunAsync("ls");
        Assert.Contains("docker.io/library/tagthing:latest", ls.Stdout);
        Assert.Contains("docker.io/jess/tagtest:latest", ls.Stdout);

        var filtered = await _img.RunAsync("ls", "-f", "name==docker.io/jess/tagtest:latest");
        Assert.DoesNotContain("tagthing", filtered.Stdout);
        Assert.Contains("jess/tagtest", filtered.Stdout);

        var rm = await _img.RunAsync("rm", "jess/tagtest");
        Assert.Equal("Removing jess/tagtest...\nSuccessfully removed jess/tagtest\n", rm.Stdout);
        ls = await _img.RunAsync("ls");
        Assert.DoesNotContain("jess/tagtest", ls.Stdout);
        Assert.Contains("tagthing", ls.Stdout);

        var missing = await _img.TryAsync("rm", "nosuchimage");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("Error: removing image failed: image \"docker.io/library/nosuchimage:latest\": not found", missing.Stderr);
    }

    [Fact]
    public async Task RemovingTheLastNameCollectsItsBlobs()
    {
        await ImportBusyboxAsync("gcme");
        var blobs = Path.Combine(_img.StateDir, "content", "blobs", "sha256");
        Assert.Equal(3, Directory.GetFiles(blobs).Length);
        await _img.RunAsync("tag", "gcme", "gcme:two");
        await _img.RunAsync("rm", "gcme");
        Assert.Equal(3, Directory.GetFiles(blobs).Length);
        await _img.RunAsync("rm", "gcme:two");
        Assert.Empty(Directory.GetFiles(blobs));
    }

    [Fact]
    public async Task InspectPrintsTheImageConfigWithTabs()
    {
        await ImportBusyboxAsync("inspectme");
        var r = await _img.RunAsync("inspect", "inspectme");
        Assert.StartsWith("{\n\t\"created\": \"", r.Stdout);
        using var doc = JsonDocument.Parse(r.Stdout);
        Assert.Equal("amd64", doc.RootElement.GetProperty("architecture").GetString());
        Assert.Equal("linux", doc.RootElement.GetProperty("os").GetString());
        Assert.Equal("layers", doc.RootElement.GetProperty("rootfs").GetProperty("type").GetString());
        Assert.Equal("busybox from Debian", doc.RootElement.GetProperty("history")[0].GetProperty("comment").GetString());

        var missing = await _img.TryAsync("inspect", "nothere");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("not found", missing.Stderr);
    }

    [Theory]
    [InlineData("docker")]
    [InlineData("oci")]
    public async Task SaveWritesALayoutWithManifestJson(string format)
    {
        await ImportBusyboxAsync("saveme");
        var dir = TestUser.CreateOwnedTempDir("save");
        var file = Path.Combine(dir, "out.tar");
        await _img.RunAsync("save", "--format", format, "-o", file, "saveme");
        var names = new List<string>();
        string? manifestJson = null;
        await using (var fs = File.OpenRead(file))
        using (var tar = new TarReader(fs))
        {
            while (tar.GetNextEntry() is { } e)
            {
                names.Add(e.Name);
                if (e.Name == "manifest.json") manifestJson = new StreamReader(e.DataStream!).ReadToEnd();
            }
        }
        Assert.Contains("oci-layout", names);
        Assert.Contains("index.json", names);
        Assert.Equal(3, names.Count(n => n.StartsWith("blobs/sha256/", StringComparison.Ordinal) && n.Length > 14));
        Assert.NotNull(manifestJson);
        if (format == "docker") Assert.Contains("\"RepoTags\":[\"saveme:latest\"]", manifestJson);
        else Assert.Contains("\"RepoTags\":null", manifestJson);
        Assert.Empty(Directory.GetFiles(dir, ".*tmp*"));
    }

    [Fact]
    public async Task SaveThenLoadIntoAnotherStateRoundTrips()
    {
        var digest = await ImportBusyboxAsync("roundtrip");
        await ImportBusyboxAsync("second:v2");
        var dir = TestUser.CreateOwnedTempDir("roundtrip");
        var file = Path.Combine(dir, "both.tar");
        await _img.RunAsync("save", "-o", file, "roundtrip", "second:v2");

        var other = new ImgCli();
        var load = await other.RunAsync("load", "-i", file);
        Assert.Equal("Loaded image: roundtrip:latest\nLoaded image: second:v2\n", load.Stdout);
        var ls = await other.RunAsync("ls");
        Assert.Contains(digest, ls.Stdout);
        Assert.Contains("docker.io/library/second:v2", ls.Stdout);
    }

    [Fact]
    public async Task SaveRefusesATerminalAndBadFormats()
    {
        await ImportBusyboxAsync("tty");
        var bad = await _img.TryAsync("save", "--format", "blah", "-o", "/tmp/never.tar", "tty");
        Assert.Equal(1, bad.ExitCode);
        Assert.Equal("Error: \"blah\" is not a valid format\n", bad.Stderr);
        Assert.False(File.Exists("/tmp/never.tar"));

        // script(1) gives img a real terminal as stdout.
        var cmd = $"{RepoPaths.ImgBinary} --state {_img.StateDir} save tty";
        var r = await ImgCli.AsUserAsync("script", "-qec", cmd, "/dev/null");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("cowardly refusing to save to a terminal. Use the -o flag or redirect", r.Stdout);
    }

    [Fact]
    public async Task CorruptOrTruncatedArchivesLeaveTheStoreUnchanged()
    {
        await ImportBusyboxAsync("keep");
        var dir = TestUser.CreateOwnedTempDir("corrupt");
        var good = Path.Combine(dir, "good.tar");
        await _img.RunAsync("save", "-o", good, "keep");
        // Names and digests: the age columns move on by themselves.
        static string Listing(string ls) => string.Join('\n', ls.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split('\t', StringSplitOptions.RemoveEmptyEntries)).Select(c => c[0] + " " + c[^1]));
        var before = Listing((await _img.RunAsync("ls")).Stdout);
        var blobsBefore = Directory.GetFiles(Path.Combine(_img.StateDir, "content", "blobs", "sha256")).Order().ToArray();

        var truncated = Path.Combine(dir, "truncated.tar");
        var bytes = await File.ReadAllBytesAsync(good);
        await File.WriteAllBytesAsync(truncated, bytes[..(bytes.Length / 3)]);
        var garbage = Path.Combine(dir, "garbage.tar");
        await File.WriteAllBytesAsync(garbage, System.Text.Encoding.ASCII.GetBytes(new string('x', 5000)));
        var flipped = Path.Combine(dir, "flipped.tar");
        // Flip a byte inside the first blob's data (after its 512-byte header): its digest no longer matches.
        var copy = (byte[])bytes.Clone();
        int firstData = FindFirstBlobData(copy);
        copy[firstData + 10] ^= 0xff;
        await File.WriteAllBytesAsync(flipped, copy);
        if (TestUser.RunningAsRoot)
            (await ProcessRunner.RunAsync("chown", ["-R", $"{TestUser.Name}:{TestUser.Name}", dir])).EnsureSuccess("chown");

        foreach (var bad in new[] { truncated, garbage, flipped })
        {
            var other = new ImgCli();
            var r = await other.TryAsync("load", "-i", bad);
            Assert.Equal(1, r.ExitCode);
            Assert.StartsWith("Error: ", r.Stderr);
            Assert.Single(r.Stderr.TrimEnd('\n').Split('\n'));
        }
        // Into the store that already holds the good blobs: a damaged copy of one is never read,
        // but a truncated or foreign archive still fails.
        foreach (var bad in new[] { truncated, garbage })
            Assert.Equal(1, (await _img.TryAsync("load", "-i", bad)).ExitCode);
        Assert.Equal(before, Listing((await _img.RunAsync("ls")).Stdout));
        Assert.Equal(blobsBefore, Directory.GetFiles(Path.Combine(_img.StateDir, "content", "blobs", "sha256")).Order().ToArray());
    }

    private static int FindFirstBlobData(byte[] tar)
    {
        for (int off = 0; off + 512 <= tar.Length; off += 512)
        {
            var name = System.Text.Encoding.ASCII.GetString(tar, off, 100).TrimEnd('\0');
            if (name.StartsWith("blobs/sha256/", StringComparison.Ordinal) && name.Length > 20) return off + 512;
        }
        throw new InvalidOperationException("no blob in archive");
    }

    [Fact]
    public async Task InvalidReferencesAreClearErrors()
    {
        var r = await _img.TryAsync("tag", "UPPER/Case", "x");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("invalid reference format", r.Stderr);
        var r2 = await _img.TryAsync("tag", "a");
        Assert.Equal("Error: must pass an image or repository and target to tag\n", r2.Stderr);
    }
}
