using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using Img.TestSupport;
using Xunit.Abstractions;

namespace Img.IntegrationTests;

/// <summary>
/// The layer a RUN step produces is the one docker would: changed paths only, ".wh." whiteouts for
/// deletions, an opaque marker for a replaced directory, the owners RUN set; umoci applies the saved
/// image to the same tree img unpack and a local export give; buildah's layer lists the same entries.
/// </summary>
public sealed class LayerParityTests(ITestOutputHelper output)
{
    private const string Dockerfile = """
        FROM paritybase
        RUN mkdir -p /data/keep /data/gone/sub /opt/dir && echo one > /data/keep/a && echo two > /data/gone/sub/b && echo three > /opt/dir/old && echo x > /data/remove-me && echo same > /data/untouched && ln -s keep/a /data/link
        RUN echo changed > /data/keep/a && chmod 640 /data/keep/a && chown 123:456 /data/keep/a && touch /data/keep/new && chown 1000:1000 /data/keep/new && rm -rf /data/gone && rm /data/remove-me && rm -rf /opt/dir && mkdir /opt/dir && touch /opt/dir/new && ln -s ../opt/dir/new /data/link2 && ln -sf keep/new /data/link

        """;

    private static readonly string[] Common =
    [
        "data/", "data/.wh.gone", "data/.wh.remove-me", "data/keep/", "data/keep/a", "data/keep/new", "data/link", "data/link2",
        "opt/", "opt/dir/", "opt/dir/new",
    ];

    [Theory]
    [InlineData("overlayfs")]
    [InlineData("native")]
    public async Task RunLayerIsWhatDockerWouldWriteAndUmociAppliesIt(string backend)
    {
        var (img, context) = await PrepareAsync();
        await img.RunAsync("build", "--no-console", "-b", backend, "-t", "parity", "-o", "type=image,oci-mediatypes=true", context);
        var work = TestUser.CreateOwnedTempDir("parity");
        var layout = await SaveLayoutAsync(img, "parity", work);
        var entries = LastLayerEntries(layout);

        // An overlay upper marks the replaced directory opaque; a tree diff whiteouts its old entry (docker's naive diff does the same).
        var replaced = backend == "overlayfs" ? "opt/dir/.wh..wh..opq" : "opt/dir/.wh.old";
        Assert.Equal(Common.Append(replaced).Order(StringComparer.Ordinal), entries.Keys.Order(StringComparer.Ordinal));
        foreach (var wh in new[] { "data/.wh.gone", "data/.wh.remove-me", replaced })
            Assert.Equal((TarEntryType.RegularFile, 0L), (entries[wh].Type, entries[wh].Size));
        Assert.Equal((123, 456, (UnixFileMode)0b110_100_000, 8L), (entries["data/keep/a"].Uid, entries["data/keep/a"].Gid, entries["data/keep/a"].Mode, entries["data/keep/a"].Size));
        Assert.Equal((1000, 1000), (entries["data/keep/new"].Uid, entries["data/keep/new"].Gid));
        Assert.Equal((TarEntryType.SymbolicLink, "keep/new"), (entries["data/link"].Type, entries["data/link"].LinkName));
        Assert.Equal((TarEntryType.SymbolicLink, "../opt/dir/new"), (entries["data/link2"].Type, entries["data/link2"].LinkName));
        Assert.Equal(TarEntryType.Directory, entries["opt/dir/"].Type);

        // umoci applies the layers (whiteouts, opaque dirs) to the same tree img unpack and a local export produce.
        var bundle = Path.Combine(work, "bundle");
        (await ImgCli.AsUserAsync("umoci", "unpack", "--rootless", "--image", layout + ":latest", bundle)).EnsureSuccess("umoci unpack");
        var unpacked = Path.Combine(work, "unpacked");
        await img.RunAsync("unpack", "-o", unpacked, "parity");
        var local = Path.Combine(work, "local");
        await img.RunAsync("build", "--no-console", "-b", backend, "-o", "type=local,dest=" + local, context);
        var umociTree = Tree(Path.Combine(bundle, "rootfs"));
        Assert.Equal("changed\n", File.ReadAllText(Path.Combine(bundle, "rootfs", "data/keep/a")));
        Assert.False(Directory.Exists(Path.Combine(bundle, "rootfs", "data/gone")));
        Assert.Equal(["new"], Directory.GetFileSystemEntries(Path.Combine(bundle, "rootfs", "opt/dir")).Select(Path.GetFileName));
        AssertSameTree(umociTree, Tree(unpacked), "img unpack");
        AssertSameTree(umociTree, Tree(local), "-o type=local");
    }

    [Fact]
    public async Task BuildahWritesTheSameLastLayerEntries()
    {
        var buildah = new[] { "/usr/bin/buildah", "/usr/local/bin/buildah" }.FirstOrDefault(File.Exists);
        if (buildah is null)
        {
            output.WriteLine("buildah is not installed: the comparison with buildah's layer was not made");
            return;
        }
        var (img, context) = await PrepareAsync();
        await img.RunAsync("build", "--no-console", "-b", "overlayfs", "-t", "parity", "-o", "type=image,oci-mediatypes=true", context);
        var work = TestUser.CreateOwnedTempDir("parity-buildah");
        var ours = LastLayerEntries(await SaveLayoutAsync(img, "parity", work));

        var baseArchive = Path.Combine(work, "base.tar");
        await img.RunAsync("save", "--format", "oci", "-o", baseArchive, "paritybase");
        var buildahContext = Path.Combine(work, "ctx");
        (await ImgCli.AsUserAsync("mkdir", buildahContext)).EnsureSuccess("mkdir");
        await File.WriteAllTextAsync(Path.Combine(buildahContext, "Dockerfile"), Dockerfile.Replace("FROM paritybase", "FROM oci-archive:" + baseArchive, StringComparison.Ordinal));
        string[] storage = ["--root", Path.Combine(work, "buildah-root"), "--runroot", Path.Combine(work, "buildah-run"), "--storage-driver", "overlay"];
        var bud = await ImgCli.AsUserAsync(buildah, [.. storage, "bud", "--layers", "--isolation", "chroot", "--network", "host", "-t", "parity", buildahContext]);
        if (bud.ExitCode != 0)
        {
            output.WriteLine("buildah cannot build rootless here, so its layer was not compared:\n" + bud.Stderr);
            return;
        }
        var pushed = Path.Combine(work, "buildah-layout");
        (await ImgCli.AsUserAsync(buildah, [.. storage, "push", "parity", "oci:" + pushed + ":latest"])).EnsureSuccess("buildah push");
        var theirs = LastLayerEntries(pushed);
        // buildah adds /run, the mount point its chroot isolation needs, to the layer; docker would not.
        if (theirs.TryGetValue("run/", out var run) && run.Type == TarEntryType.Directory && !ours.ContainsKey("run/")) theirs.Remove("run/");
        Assert.Equal(theirs.Select(e => (e.Key, e.Value.Type)).Order(), ours.Select(e => (e.Key, e.Value.Type)).Order());
    }

    private static async Task<(ImgCli Img, string Context)> PrepareAsync()
    {
        var img = new ImgCli();
        await img.RunAsync("import", await BusyboxRootfs.TarballAsync(), "paritybase");
        var context = TestUser.CreateOwnedTempDir("parity-ctx");
        await File.WriteAllTextAsync(Path.Combine(context, "Dockerfile"), Dockerfile);
        return (img, context);
    }

    /// <summary>img save --format oci, extracted by the test user into an OCI layout directory.</summary>
    private static async Task<string> SaveLayoutAsync(ImgCli img, string name, string work)
    {
        var archive = Path.Combine(work, name + ".oci.tar");
        await img.RunAsync("save", "--format", "oci", "-o", archive, name);
        var layout = Path.Combine(work, "layout");
        (await ImgCli.AsUserAsync("mkdir", layout)).EnsureSuccess("mkdir");
        (await ImgCli.AsUserAsync("tar", "-xf", archive, "-C", layout)).EnsureSuccess("tar -x");
        return layout;
    }

    private sealed record Entry(TarEntryType Type, int Uid, int Gid, UnixFileMode Mode, long Size, string LinkName);

    private static Dictionary<string, Entry> LastLayerEntries(string layout)
    {
        string Blob(string digest) => Path.Combine(layout, "blobs", "sha256", digest["sha256:".Length..]);
        using var index = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(layout, "index.json")));
        var manifestDigest = index.RootElement.GetProperty("manifests")[0].GetProperty("digest").GetString()!;
        using var manifest = JsonDocument.Parse(File.ReadAllBytes(Blob(manifestDigest)));
        var layers = manifest.RootElement.GetProperty("layers");
        var last = layers[layers.GetArrayLength() - 1];
        using var file = File.OpenRead(Blob(last.GetProperty("digest").GetString()!));
        Stream stream = last.GetProperty("mediaType").GetString()!.EndsWith("gzip", StringComparison.Ordinal) ? new GZipStream(file, CompressionMode.Decompress) : file;
        using var reader = new TarReader(stream);
        var entries = new Dictionary<string, Entry>(StringComparer.Ordinal);
        while (reader.GetNextEntry() is { } e)
        {
            var name = e.Name.StartsWith("./", StringComparison.Ordinal) ? e.Name[2..] : e.Name;
            if (name.Length == 0) continue;
            if (e.EntryType == TarEntryType.Directory && !name.EndsWith('/')) name += "/";
            Assert.True(entries.TryAdd(name, new Entry(e.EntryType, e.Uid, e.Gid, e.Mode, e.Length, e.LinkName)), $"{name} is in the layer twice");
        }
        return entries;
    }

    /// <summary>Each path's type, permissions, link target and content hash.</summary>
    private static SortedDictionary<string, string> Tree(string root)
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = false };
        foreach (var info in new DirectoryInfo(root).EnumerateFileSystemInfos("*", options))
        {
            var rel = Path.GetRelativePath(root, info.FullName);
            var mode = Convert.ToString((int)info.UnixFileMode, 8);
            result[rel] = info switch
            {
                _ when info.LinkTarget is { } target => "symlink -> " + target,
                DirectoryInfo => "dir " + mode,
                FileInfo f => $"file {mode} {Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(f.FullName)))}",
                _ => "other",
            };
        }
        return result;
    }

    private static void AssertSameTree(SortedDictionary<string, string> expected, SortedDictionary<string, string> actual, string what)
    {
        var differences = expected.Keys.Union(actual.Keys)
            .Where(k => !expected.TryGetValue(k, out var e) || !actual.TryGetValue(k, out var a) || e != a)
            .Select(k => $"{k}: umoci {expected.GetValueOrDefault(k) ?? "(none)"}, {what} {actual.GetValueOrDefault(k) ?? "(none)"}")
            .ToList();
        Assert.True(differences.Count == 0, $"umoci's rootfs and {what} differ:\n" + string.Join('\n', differences.Take(40)));
    }
}
