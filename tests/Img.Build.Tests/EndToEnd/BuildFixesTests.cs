using System.Formats.Tar;
using System.Text.Json;
using Img.TestSupport;

namespace Img.Build.Tests.EndToEnd;

/// <summary>ADD --chown of archives, bind mounts through .dockerignore, --no-cache snapshots, unnamed archives, RUN --network.</summary>
[Collection("img build")]
public sealed class BuildFixesTests(ImgBuildFixture img)
{
    [Fact]
    public async Task AddChownOfAnArchiveOwnsOnlyItsEntries()
    {
        var ctx = img.NewContext("""
            FROM base
            RUN mkdir -p /dest/packed && echo old > /dest/existing && echo kept > /dest/packed/kept.txt
            ADD --chown=2:2 archive.tar.gz /dest/
            RUN stat -c '%n %u:%g' /dest/existing /dest/packed/kept.txt /dest/packed /dest/packed/x.txt > /owners && ls -a /dest > /listing
            """);
        var tarDir = img.TempDir("img-build-e2e-tar");
        ImgBuildFixture.Write(tarDir, "packed/x.txt", "x");
        (await ProcessRunner.RunAsync("tar", ["-czf", Path.Combine(ctx, "archive.tar.gz"), "-C", tarDir, "packed"])).EnsureSuccess("tar");
        var r = await img.BuildAsync(ctx, "--no-console", "-o", "type=local,dest=out", ".");
        r.EnsureSuccess("build");
        Assert.Equal("/dest/existing 0:0\n/dest/packed/kept.txt 0:0\n/dest/packed 2:2\n/dest/packed/x.txt 2:2\n", File.ReadAllText(Path.Combine(ctx, "out/owners")));
        Assert.Equal(".\n..\nexisting\npacked\n", File.ReadAllText(Path.Combine(ctx, "out/listing")));
        Assert.Equal("x", File.ReadAllText(Path.Combine(ctx, "out/dest/packed/x.txt")));
    }

    [Fact]
    public async Task BindMountFromTheContextHidesIgnoredFiles()
    {
        var ctx = img.NewContext("""
            FROM base
            RUN --mount=type=bind,target=/ctx --mount=type=bind,source=sub,target=/sub find /ctx /sub | sort > /listing
            """, (".dockerignore", "secret.txt\nsub/hidden\n"), ("secret.txt", "s"), ("keep.txt", "k"), ("sub/hidden", "h"), ("sub/shown", "v"));
        var r = await img.BuildAsync(ctx, "--no-console", "-o", "type=local,dest=out", ".");
        r.EnsureSuccess("build");
        var listing = File.ReadAllText(Path.Combine(ctx, "out/listing")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("/ctx/keep.txt", listing);
        Assert.Contains("/ctx/sub/shown", listing);
        Assert.Contains("/sub/shown", listing);
        Assert.DoesNotContain(listing, l => l.EndsWith("secret.txt", StringComparison.Ordinal) || l.EndsWith("hidden", StringComparison.Ordinal));
        Assert.True(File.Exists(Path.Combine(ctx, "secret.txt")), "the context itself is untouched");
    }

    [Fact]
    public async Task NoCacheLeavesNoSnapshotWithoutARecord()
    {
        (await img.ImgAsync(img.State, null, ["prune"])).EnsureSuccess("prune before");
        var before = SnapshotCount();
        var ctx = img.NewContext("FROM base\nRUN echo a > /a\nRUN echo b > /b\n");
        (await img.BuildAsync(ctx, "--no-console", "-o", "type=local,dest=out1", ".")).EnsureSuccess("first build");
        // The first RUN's old snapshot is the parent of the second's: it cannot go when --no-cache runs the step again.
        (await img.BuildAsync(ctx, "--no-console", "--no-cache", "-o", "type=local,dest=out2", ".")).EnsureSuccess("--no-cache build");
        var cached = await img.BuildAsync(ctx, "--no-console", "-o", "type=local,dest=out3", ".");
        cached.EnsureSuccess("cached build");
        Assert.Equal(2, cached.Stderr.Split(" CACHED").Length - 1);
        Assert.Equal("b\n", File.ReadAllText(Path.Combine(ctx, "out3/b")));
        (await img.ImgAsync(img.State, null, ["prune"])).EnsureSuccess("prune after");
        Assert.Equal(before, SnapshotCount());
    }

    private int SnapshotCount() =>
        Directory.GetDirectories(img.State, "snapshots", SearchOption.AllDirectories)
            .Sum(d => Directory.GetDirectories(d).Count(s => !Path.GetFileName(s).StartsWith('.')));

    [Theory]
    [InlineData("docker")]
    [InlineData("oci")]
    public async Task ArchiveWithoutANameNamesNothing(string type)
    {
        var ctx = img.NewContext("FROM base\nRUN echo x > /x\n");
        var r = await img.BuildAsync(ctx, "--no-console", "-o", $"type={type},dest=img.tar", ".");
        r.EnsureSuccess("build");
        var files = new Dictionary<string, byte[]>();
        using (var tr = new TarReader(File.OpenRead(Path.Combine(ctx, "img.tar"))))
            while (tr.GetNextEntry() is { } e)
                if (e.DataStream is not null) { using var ms = new MemoryStream(); e.DataStream.CopyTo(ms); files[e.Name] = ms.ToArray(); }
        using var manifest = JsonDocument.Parse(files["manifest.json"]);
        Assert.Equal(JsonValueKind.Null, manifest.RootElement[0].GetProperty("RepoTags").ValueKind);
        using var index = JsonDocument.Parse(files["index.json"]);
        var entry = index.RootElement.GetProperty("manifests")[0];
        Assert.False(entry.TryGetProperty("annotations", out var a) && a.ValueKind == JsonValueKind.Object && a.EnumerateObject().Any());
        Assert.Contains("blobs/sha256/" + entry.GetProperty("digest").GetString()!["sha256:".Length..], files.Keys);
    }

    [Fact]
    public async Task RunNetworkNoneHasOnlyLoopbackAndDefaultIsTheHosts()
    {
        var ctx = img.NewContext("""
            FROM base
            RUN --network=none tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' > /none && ip addr show lo > /none-lo
            RUN tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' > /default
            RUN --network=host tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' > /host
            """);
        var r = await img.BuildAsync(ctx, "--no-console", "-o", "type=local,dest=out", ".");
        r.EnsureSuccess("build");
        var hostIfaces = File.ReadLines("/proc/net/dev").Skip(2).Select(l => l.Split(':')[0].Trim()).Order().ToList();
        Assert.Equal("lo\n", File.ReadAllText(Path.Combine(ctx, "out/none")));
        Assert.Contains("127.0.0.1", File.ReadAllText(Path.Combine(ctx, "out/none-lo")));
        Assert.Equal(hostIfaces, File.ReadAllText(Path.Combine(ctx, "out/default")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Order());
        Assert.Equal(hostIfaces, File.ReadAllText(Path.Combine(ctx, "out/host")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Order());

        var bad = await img.BuildAsync(ctx, "--no-console", "-o", "type=local,dest=out2", "-f", WriteDockerfile(ctx, "FROM base\nRUN --network=bridge true\n"), ".");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("unsupported network mode \"bridge\"", bad.Stderr);
    }

    private static string WriteDockerfile(string ctx, string text)
    {
        var path = Path.Combine(ctx, "Dockerfile.other");
        File.WriteAllText(path, text);
        return path;
    }
}
