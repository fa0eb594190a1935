using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json;
using Img.TestSupport;

namespace Img.Build.Tests.EndToEnd;

/// <summary>
/// SOURCE_DATE_EPOCH and cache-derived times: the same Dockerfile and context give the same image digest in two state
/// directories, and a rebuild answered from cache is the same image.
/// </summary>
[Collection("img build")]
public sealed class ReproducibleBuildTests(ImgBuildFixture img)
{
    private const long Epoch = 1_700_000_000;

    // Self-contained (FROM scratch) so a fresh state directory needs nothing from the fixture's.
    private const string Dockerfile = """
        FROM scratch
        COPY busybox /bin/busybox
        RUN ["/bin/busybox", "--install", "-s", "/bin"]
        ARG SOURCE_DATE_EPOCH
        RUN mkdir -p /data && echo "epoch=$SOURCE_DATE_EPOCH" > /data/seen && touch /data/now
        WORKDIR /work
        COPY notes.txt /work/
        LABEL stage=final
        CMD ["sh"]
        """;

    [Fact]
    public async Task TwoStateDirectoriesGiveTheSameDigestWithSourceDateEpoch()
    {
        var ctx = img.NewContext(Dockerfile, ("notes.txt", "hello\n"));
        File.SetLastWriteTimeUtc(Path.Combine(ctx, "notes.txt"), DateTime.UtcNow); // newer than the epoch: must be clamped
        var otherState = img.TempDir("img-repro-state");

        var first = await BuildToOciAsync(img.State, ctx, "first.tar", ["--build-arg", $"SOURCE_DATE_EPOCH={Epoch}"]);
        // The second "machine" passes it through the environment, as buildx users do.
        var second = await BuildToOciAsync(otherState, ctx, "second.tar", [], new Dictionary<string, string?> { ["SOURCE_DATE_EPOCH"] = Epoch.ToString() });

        Assert.Equal(first.ManifestDigest, second.ManifestDigest);
        Assert.Equal($"{DateTimeOffset.FromUnixTimeSeconds(Epoch):yyyy-MM-ddTHH:mm:ssZ}", first.Config.GetProperty("created").GetString());
        var history = first.Config.GetProperty("history").EnumerateArray().ToList();
        Assert.NotEmpty(history);
        Assert.All(history, h => Assert.Equal(first.Config.GetProperty("created").GetString(), h.GetProperty("created").GetString()));
        Assert.Contains($"epoch={Epoch}", first.Files["data/seen"].Content);
        foreach (var (name, entry) in first.Files)
            Assert.True(entry.MTime <= DateTimeOffset.FromUnixTimeSeconds(Epoch), $"{name} has mtime {entry.MTime}, after SOURCE_DATE_EPOCH");
    }

    [Fact]
    public async Task RebuildFromCacheIsTheSameImageAndItsTimeIsTheStepsNotTheClock()
    {
        var ctx = img.NewContext(Dockerfile, ("notes.txt", $"{Guid.NewGuid()}\n"));
        var first = await BuildToOciAsync(img.State, ctx, "first.tar", []);
        await Task.Delay(1100); // a wall-clock time would now differ by at least a second
        var second = await BuildToOciAsync(img.State, ctx, "second.tar", []);
        Assert.Contains(" CACHED", second.Output);
        Assert.Equal(first.ManifestDigest, second.ManifestDigest);

        // created is the time of the last step that wrote files; LABEL and CMD after it carry the same time.
        var history = first.Config.GetProperty("history").EnumerateArray().ToList();
        var last = history[^1].GetProperty("created").GetString();
        Assert.Equal(first.Config.GetProperty("created").GetString(), last);
        Assert.Equal(history[^3].GetProperty("created").GetString(), last); // COPY notes.txt
    }

    [Fact]
    public async Task InvalidSourceDateEpochIsRefused()
    {
        var ctx = img.NewContext(Dockerfile, ("notes.txt", "x\n"));
        var r = await img.BuildAsync(ctx, "--no-console", "--build-arg", "SOURCE_DATE_EPOCH=yesterday", "-o", "type=oci,dest=x.tar", ".");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("Error: invalid SOURCE_DATE_EPOCH: yesterday", r.Stderr);
    }

    private sealed record Built(string ManifestDigest, JsonElement Config, Dictionary<string, (DateTimeOffset MTime, string Content)> Files, string Output);

    private static async Task<Built> BuildToOciAsync(string state, string ctx, string dest, string[] extra, IDictionary<string, string?>? env = null)
    {
        var (file, args) = TestUser.Wrap(RepoPaths.ImgBinary, ["-s", state, "build", "--no-console", .. extra, "-o", $"type=oci,dest={dest}", "."], env);
        var r = await ProcessRunner.RunAsync(file, args, workingDirectory: ctx, timeout: TimeSpan.FromMinutes(3));
        r.EnsureSuccess("build " + dest);
        var blobs = ReadArchive(Path.Combine(ctx, dest));
        using var index = JsonDocument.Parse(blobs["index.json"]);
        var manifestDigest = index.RootElement.GetProperty("manifests")[0].GetProperty("digest").GetString()!;
        using var manifest = JsonDocument.Parse(blobs[BlobPath(manifestDigest)]);
        var config = JsonDocument.Parse(blobs[BlobPath(manifest.RootElement.GetProperty("config").GetProperty("digest").GetString()!)]).RootElement.Clone();
        var files = new Dictionary<string, (DateTimeOffset, string)>(StringComparer.Ordinal);
        foreach (var layer in manifest.RootElement.GetProperty("layers").EnumerateArray())
        {
            using var gz = new GZipStream(new MemoryStream(blobs[BlobPath(layer.GetProperty("digest").GetString()!)]), CompressionMode.Decompress);
            using var tar = new TarReader(gz);
            while (tar.GetNextEntry() is { } e)
            {
                var content = e.DataStream is { } s ? new StreamReader(s).ReadToEnd() : "";
                files[e.Name.TrimEnd('/')] = (e.ModificationTime, content);
            }
        }
        return new Built(manifestDigest, config, files, r.Stderr);
    }

    private static string BlobPath(string digest) => "blobs/" + digest.Replace(':', '/');

    private static Dictionary<string, byte[]> ReadArchive(string path)
    {
        var blobs = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        using var tar = new TarReader(File.OpenRead(path));
        while (tar.GetNextEntry() is { } e)
        {
            if (e.DataStream is null) continue;
            using var ms = new MemoryStream();
            e.DataStream.CopyTo(ms);
            blobs[e.Name.TrimStart('.', '/')] = ms.ToArray();
        }
        return blobs;
    }
}

/// <summary><c>-o …,compression=zstd</c>: zstd layers under OCI media types, stored, unpacked and not confused with gzip results in the cache.</summary>
[Collection("img build")]
public sealed class ZstdLayerTests(ImgBuildFixture img)
{
    [Fact]
    public async Task ZstdLayersAreWrittenAndReadBack()
    {
        var ctx = img.NewContext($"FROM base\nRUN echo {Guid.NewGuid()} > /id && seq 1 20000 > /numbers\n");
        // A gzip build first: its cached step must not hand its gzip layer to the zstd build.
        (await img.BuildAsync(ctx, "--no-console", "-t", "zstd-gzip-first", ".")).EnsureSuccess("gzip build");
        var r = await img.BuildAsync(ctx, "--no-console", "-o", "type=image,name=zstd-test,compression=zstd", ".");
        r.EnsureSuccess("zstd build");

        var inspect = await img.ImgAsync(ctx, null, ["inspect", "zstd-test"]);
        inspect.EnsureSuccess("inspect");
        var unpack = await img.ImgAsync(ctx, null, ["unpack", "-o", "rootfs", "zstd-test"]);
        unpack.EnsureSuccess("unpack");
        Assert.Equal("20000", File.ReadAllLines(Path.Combine(ctx, "rootfs/numbers"))[^1]);

        var save = await img.ImgAsync(ctx, null, ["save", "--format", "oci", "-o", "z.tar", "zstd-test"]);
        save.EnsureSuccess("save");
        var dir = Path.Combine(ctx, "z");
        Directory.CreateDirectory(dir);
        (await ProcessRunner.RunAsync("tar", ["-xf", Path.Combine(ctx, "z.tar"), "-C", dir])).EnsureSuccess("untar");
        using var index = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "index.json")));
        var manifestPath = Path.Combine(dir, "blobs", index.RootElement.GetProperty("manifests")[0].GetProperty("digest").GetString()!.Replace(':', '/'));
        using var manifest = JsonDocument.Parse(File.ReadAllText(manifestPath));
        Assert.Equal("application/vnd.oci.image.manifest.v1+json", manifest.RootElement.GetProperty("mediaType").GetString());
        var top = manifest.RootElement.GetProperty("layers").EnumerateArray().Last();
        Assert.Equal("application/vnd.oci.image.layer.v1.tar+zstd", top.GetProperty("mediaType").GetString());
        var blob = Path.Combine(dir, "blobs", top.GetProperty("digest").GetString()!.Replace(':', '/'));
        // An independent decoder reads it: zstd -t checks every frame.
        (await ProcessRunner.RunAsync("zstd", ["-t", "-q", blob])).EnsureSuccess("zstd -t");
    }
}
