using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Img.Build.CacheSharing;
using Img.Oci;
using Img.TestSupport;

namespace Img.Build.Tests.EndToEnd;

/// <summary>
/// <c>--cache-to</c>/<c>--cache-from</c> between state directories that share nothing but a registry or a directory,
/// as two CI machines would: the second one shows the steps CACHED without running them (a RUN writing random bytes
/// gives the same layer) and makes the same image digest.
/// </summary>
[Collection("img build")]
public sealed class CacheSharingTests(ImgBuildFixture img)
{
    private const string RandomRun = "RUN head -c 256 /dev/urandom | od -An -tx1 > /random && date +%s%N > /stamp";

    private static string Dockerfile(string from) => $"FROM {from}\nCOPY data.txt /data.txt\n{RandomRun}\nCMD [\"cat\", \"/random\"]\n";

    private async Task<ProcessResult> ImgAsync(string state, string cwd, params string[] args)
    {
        var env = new Dictionary<string, string?> { ["DOCKER_CONFIG"] = Path.Combine(state, "docker-config") };
        var (file, wrapped) = TestUser.Wrap(RepoPaths.ImgBinary, ["-s", state, .. args], env);
        return await ProcessRunner.RunAsync(file, wrapped, workingDirectory: cwd, timeout: TimeSpan.FromMinutes(4));
    }

    private Task<ProcessResult> BuildAsync(string state, string ctx, params string[] args) => ImgAsync(state, ctx, ["build", "--no-console", .. args, "."]);

    private string NewState() => img.TempDir("img-cache-state");

    /// <summary>The stored manifest digest of <paramref name="name"/> (the DIGEST column of <c>img ls</c>).</summary>
    private async Task<string> DigestOfAsync(string state, string name)
    {
        var ls = (await ImgAsync(state, "/", "ls")).EnsureSuccess("ls");
        return ImgBuildFixture.DigestInListing(ls.Stdout, name);
    }

    private static bool StepCached(string stderr, string instruction) =>
        Regex.IsMatch(stderr, Regex.Escape(instruction) + @"\n#\d+ CACHED\n");

    private static int Warnings(string stderr) => stderr.Split('\n').Count(l => l.Contains("WARNING", StringComparison.Ordinal));

    [Fact]
    public async Task RegistryCacheLetsAnotherStateDirSkipTheRunAndMakeTheSameImage()
    {
        await using var registry = await RegistryServer.StartAsync();
        var busybox = await registry.SeedBusyboxAsync();
        var ctx = img.NewContext(Dockerfile(busybox.Reference), ("data.txt", "shared data\n"));
        var cacheRef = $"{registry.HostPort}/cache:x";

        string a = NewState(), b = NewState();
        var first = await BuildAsync(a, ctx, "-t", "shared:v1", "--cache-to", $"type=registry,ref={cacheRef},mode=max");
        first.EnsureSuccess("build on A");
        Assert.Contains("exporting cache to registry", first.Stderr);
        Assert.Matches(@"#\d+ writing layer sha256:[0-9a-f]{64} done\n", first.Stderr);
        Assert.Matches(@"#\d+ writing config sha256:[0-9a-f]{64} done\n", first.Stderr);
        Assert.Matches(@"#\d+ writing cache manifest sha256:[0-9a-f]{64} done\n", first.Stderr);
        Assert.False(StepCached(first.Stderr, RandomRun));

        var second = await BuildAsync(b, ctx, "-t", "shared:v1", "--cache-from", cacheRef);
        second.EnsureSuccess("build on B");
        Assert.Contains($"importing cache manifest from {cacheRef}", second.Stderr);
        Assert.True(StepCached(second.Stderr, "COPY data.txt /data.txt"), second.Stderr);
        Assert.True(StepCached(second.Stderr, RandomRun), second.Stderr);
        Assert.Equal(0, Warnings(second.Stderr));
        // Random bytes: equal digests mean B used A's layer and config times, not a run of its own.
        Assert.Equal(await DigestOfAsync(a, "docker.io/library/shared:v1"), await DigestOfAsync(b, "docker.io/library/shared:v1"));

        // What B restored is in its own cache now: no --cache-from needed any more.
        var third = await BuildAsync(b, ctx, "-t", "shared:v1");
        Assert.True(StepCached(third.EnsureSuccess("build on B again").Stderr, RandomRun), third.Stderr);
    }

    [Fact]
    public async Task LocalDirectoryCacheWorksTheSameWay()
    {
        await using var registry = await RegistryServer.StartAsync();
        var busybox = await registry.SeedBusyboxAsync();
        var ctx = img.NewContext(Dockerfile(busybox.Reference), ("data.txt", "local data\n"));
        var dir = Path.Combine(img.TempDir("img-cache-dir"), "cache");

        string a = NewState(), b = NewState();
        var first = await BuildAsync(a, ctx, "-t", "localcache:v1", "--cache-to", $"type=local,dest={dir}");
        first.EnsureSuccess("build on A");
        Assert.Contains("exporting cache to client directory", first.Stderr);
        Assert.True(File.Exists(Path.Combine(dir, "oci-layout")));
        var (index, manifest, config) = ReadLayout(dir, "latest");
        Assert.Equal(MediaTypes.OciIndex, index.MediaType);
        Assert.Equal(MediaTypes.OciManifest, Assert.Single(index.Manifests).MediaType);
        Assert.Equal(CacheConfig.MediaType, manifest.Config.MediaType);
        Assert.Equal(2, config.Records.Count(r => r.Layer is not null));
        foreach (var layer in manifest.Layers) Assert.True(File.Exists(Path.Combine(dir, "blobs", "sha256", layer.Digest.Hex)));
        Assert.DoesNotContain(Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories), f => Path.GetFileName(f).StartsWith('.'));

        var second = await BuildAsync(b, ctx, "-t", "localcache:v1", "--cache-from", $"type=local,src={dir}");
        second.EnsureSuccess("build on B");
        Assert.Contains($"importing cache manifest from {dir}", second.Stderr);
        Assert.True(StepCached(second.Stderr, RandomRun), second.Stderr);
        Assert.Equal(await DigestOfAsync(a, "docker.io/library/localcache:v1"), await DigestOfAsync(b, "docker.io/library/localcache:v1"));

        // Another tag in the same directory keeps the first one.
        (await BuildAsync(b, ctx, "-t", "localcache:v1", "--cache-to", $"type=local,dest={dir},tag=other")).EnsureSuccess("export under another tag");
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "index.json")));
        var tags = doc.RootElement.GetProperty("manifests").EnumerateArray()
            .Select(m => m.GetProperty("annotations").GetProperty(Annotations.RefName).GetString()).Order().ToList();
        Assert.Equal(["latest", "other"], tags);
    }

    [Fact]
    public async Task InlineCacheTravelsInThePushedImage()
    {
        await using var registry = await RegistryServer.StartAsync();
        var busybox = await registry.SeedBusyboxAsync();
        var ctx = img.NewContext(Dockerfile(busybox.Reference), ("data.txt", "inline data\n"));
        var image = $"{registry.HostPort}/app:inline";

        string a = NewState(), c = NewState();
        (await BuildAsync(a, ctx, "-t", image, "--cache-to", "type=inline")).EnsureSuccess("build on A");
        var inspect = (await ImgAsync(a, "/", "inspect", image)).EnsureSuccess("inspect");
        Assert.Contains(CacheConfig.InlineField, inspect.Stdout);
        (await ImgAsync(a, "/", "push", image)).EnsureSuccess("push");

        // The same flags on another machine, reading the pushed image: the same image again.
        var second = await BuildAsync(c, ctx, "-t", image, "--cache-to", "type=inline", "--cache-from", image);
        second.EnsureSuccess("build on C");
        Assert.True(StepCached(second.Stderr, RandomRun), second.Stderr);
        Assert.Equal(await DigestOfAsync(a, image), await DigestOfAsync(c, image));
    }

    [Fact]
    public async Task ModeMaxAlsoExportsIntermediateStages()
    {
        await using var registry = await RegistryServer.StartAsync();
        var busybox = await registry.SeedBusyboxAsync();
        const string builderRun = "RUN head -c 64 /dev/urandom | od -An -tx1 > /built";
        var ctx = img.NewContext($"FROM {busybox.Reference} AS builder\n{builderRun}\nFROM {busybox.Reference}\nCOPY --from=builder /built /built\nRUN echo final > /final\n");
        var root = img.TempDir("img-cache-modes");
        string min = Path.Combine(root, "min"), max = Path.Combine(root, "max");

        string a = NewState();
        (await BuildAsync(a, ctx, "-t", "modes:v1", "--cache-to", $"type=local,dest={min}", "--cache-to", $"type=local,dest={max},mode=max")).EnsureSuccess("build on A");
        var minSteps = ReadLayout(min, "latest").Config.Records.Select(r => r.Description ?? "").ToList();
        var maxSteps = ReadLayout(max, "latest").Config.Records.Select(r => r.Description ?? "").ToList();
        Assert.Contains(minSteps, d => d.Contains("echo final", StringComparison.Ordinal));
        Assert.DoesNotContain(minSteps, d => d.Contains("/built", StringComparison.Ordinal) && d.Contains("urandom", StringComparison.Ordinal));
        Assert.Contains(maxSteps, d => d.Contains("urandom", StringComparison.Ordinal));
        Assert.Contains(maxSteps, d => d.Contains("echo final", StringComparison.Ordinal));

        // min: the intermediate stage runs again, the final stage's steps come from the cache.
        var fromMin = await BuildAsync(NewState(), ctx, "-t", "modes:v1", "--cache-from", $"type=local,src={min}");
        fromMin.EnsureSuccess("build from the min cache");
        Assert.False(StepCached(fromMin.Stderr, builderRun), fromMin.Stderr);
        Assert.True(StepCached(fromMin.Stderr, "RUN echo final > /final"), fromMin.Stderr);
        // max: everything comes from the cache.
        var fromMax = await BuildAsync(NewState(), ctx, "-t", "modes:v1", "--cache-from", $"type=local,src={max}");
        fromMax.EnsureSuccess("build from the max cache");
        Assert.True(StepCached(fromMax.Stderr, builderRun), fromMax.Stderr);
        Assert.True(StepCached(fromMax.Stderr, "RUN echo final > /final"), fromMax.Stderr);
    }

    [Fact]
    public async Task AMultiPlatformBuildExportsOneCacheForEveryPlatform()
    {
        // COPY-only, so no emulator is needed: each platform copies its own busybox.
        var ctx = img.NewContext("FROM scratch\nARG TARGETARCH\nCOPY busybox-${TARGETARCH} /bin/busybox\nCOPY data.txt /data.txt\n", ("data.txt", "both\n"));
        foreach (var arch in new[] { "amd64", "arm64" }) File.Copy(ForeignBusybox.PathFor(arch), Path.Combine(ctx, "busybox-" + arch), overwrite: true);
        var dir = Path.Combine(img.TempDir("img-cache-multi"), "cache");
        string[] platforms = ["--platform", "linux/amd64,linux/arm64"];

        string a = NewState(), b = NewState();
        (await BuildAsync(a, ctx, ["-t", "multi:v1", .. platforms, "--cache-to", $"type=local,dest={dir}"])).EnsureSuccess("build on A");
        Assert.Equal(4, ReadLayout(dir, "latest").Config.Records.Count);

        var second = await BuildAsync(b, ctx, ["-t", "multi:v1", .. platforms, "--cache-from", $"type=local,src={dir}"]);
        second.EnsureSuccess("build on B");
        Assert.True(StepCached(second.Stderr, "[linux/arm64 stage-0 2/3] COPY busybox-${TARGETARCH} /bin/busybox"), second.Stderr);
        Assert.True(StepCached(second.Stderr, "[linux/amd64 stage-0 3/3] COPY data.txt /data.txt"), second.Stderr);
        Assert.Equal(await DigestOfAsync(a, "docker.io/library/multi:v1"), await DigestOfAsync(b, "docker.io/library/multi:v1"));
    }

    [Fact]
    public async Task BrokenCachesAreOneWarningAndTheStepsRun()
    {
        await using var registry = await RegistryServer.StartAsync();
        await using var guarded = await RegistryServer.StartAsync(RegistryShape.Basic);
        var busybox = await registry.SeedBusyboxAsync();
        var ctx = img.NewContext(Dockerfile(busybox.Reference), ("data.txt", "broken caches\n"));

        // Garbage where the cache map should be.
        await PushRawAsync(registry, "cache", "garbage", CacheConfig.MediaType, Encoding.UTF8.GetBytes("{ this is not json"));
        // A real cache whose layer blobs were deleted afterwards: the map reads fine, the first restore fails.
        (await BuildAsync(NewState(), ctx, "-t", "broken:v1", "--cache-to", $"type=registry,ref={registry.HostPort}/cache:good")).EnsureSuccess("export");
        await DeleteLayersAsync(registry, "cache", "good");

        foreach (var from in new[]
        {
            $"{registry.HostPort}/cache:garbage",
            $"{registry.HostPort}/cache:good",
            $"{registry.HostPort}/cache:nonexistent",
            $"{guarded.HostPort}/cache:x",   // 401: no credentials
            "127.0.0.1:1/cache:x",           // nothing listens
        })
        {
            var r = await BuildAsync(NewState(), ctx, "-t", "broken:v1", "--cache-from", from);
            Assert.True(r.ExitCode == 0, $"--cache-from {from} failed the build:\n{r.Stderr}");
            Assert.True(Warnings(r.Stderr) == 1, $"--cache-from {from}: want one warning line:\n{r.Stderr}");
            Assert.Contains($"WARNING: ignoring cache from {from}", r.Stderr);
            Assert.False(StepCached(r.Stderr, RandomRun), $"--cache-from {from}:\n{r.Stderr}");
            Assert.Contains("Successfully built", r.Stderr);
        }
    }

    [Fact]
    public async Task AFailedExportFailsTheBuildAfterTheImageIsStored()
    {
        var ctx = img.NewContext("FROM base\nRUN echo x > /x\n");
        var failed = await img.BuildAsync(ctx, "-t", "exportfail:v1", "--no-console", "--cache-to", "type=registry,ref=127.0.0.1:1/cache:x", ".");
        Assert.Equal(1, failed.ExitCode);
        Assert.Contains("Error: failed to solve: failed to export cache to 127.0.0.1:1/cache:x: ", failed.Stderr);
        Assert.Contains("docker.io/library/exportfail:v1", (await img.ImgAsync(ctx, null, ["ls"])).Stdout);

        var ignored = await img.BuildAsync(ctx, "-t", "exportfail:v1", "--no-console", "--cache-to", "type=registry,ref=127.0.0.1:1/cache:x,ignore-error=true", ".");
        ignored.EnsureSuccess("ignore-error=true");
        Assert.Contains("WARNING: failed to export cache to 127.0.0.1:1/cache:x", ignored.Stderr);
    }

    [Theory]
    [InlineData("--cache-to", "type=local", "Error: --cache-to type=local: type=local requires dest=<directory>\n")]
    [InlineData("--cache-to", "type=registry,mode=max", "Error: --cache-to type=registry,mode=max: type=registry requires ref=<reference>\n")]
    [InlineData("--cache-to", "type=s3", "Error: --cache-to type=s3: unknown cache exporter \"s3\" (use registry, local or inline)\n")]
    [InlineData("--cache-from", "type=local,dest=x", "Error: --cache-from type=local,dest=x: type=local requires src=<directory>\n")]
    [InlineData("--cache-from", "type=gha", "Error: --cache-from type=gha: unknown cache importer \"gha\" (use registry or local)\n")]
    public async Task BadCacheFlagsAreOneLineErrors(string flag, string value, string error)
    {
        var ctx = img.NewContext("FROM base\n");
        var r = await img.BuildAsync(ctx, "-t", "never", flag, value, ".");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal(error, r.Stderr);
    }

    private static (ImageIndex Index, Manifest Manifest, CacheConfig Config) ReadLayout(string dir, string tag)
    {
        var index = OciJson.Deserialize<ImageIndex>(File.ReadAllBytes(Path.Combine(dir, "index.json")));
        var entry = index.Manifests.Single(m => m.Annotations?[Annotations.RefName] == tag);
        var manifest = OciJson.Deserialize<Manifest>(File.ReadAllBytes(Path.Combine(dir, "blobs", "sha256", entry.Digest.Hex)));
        var config = CacheConfig.Parse(File.ReadAllBytes(Path.Combine(dir, "blobs", "sha256", manifest.Config.Digest.Hex)));
        return (index, manifest, config);
    }

    /// <summary>Pushes a manifest with no layers and <paramref name="config"/> as its config blob, with plain HTTP.</summary>
    private static async Task PushRawAsync(RegistryServer registry, string repository, string tag, string configType, byte[] config)
    {
        using var client = registry.CreateHttpClient();
        var digest = Digest.Compute(config);
        using (var start = await client.PostAsync($"v2/{repository}/blobs/uploads/", null))
        {
            Assert.Equal(HttpStatusCode.Accepted, start.StatusCode);
            var location = new Uri(client.BaseAddress!, start.Headers.Location!);
            var sep = location.Query.Length > 0 ? "&" : "?";
            using var put = await client.PutAsync(new Uri(location + sep + "digest=" + Uri.EscapeDataString(digest.ToString())), new ByteArrayContent(config));
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }
        var manifest = OciJson.Serialize(new Manifest { MediaType = MediaTypes.OciManifest, Config = new Descriptor(configType, digest, config.Length), Layers = [] });
        var content = new ByteArrayContent(manifest);
        content.Headers.ContentType = new MediaTypeHeaderValue(MediaTypes.OciManifest);
        using var response = await client.PutAsync($"v2/{repository}/manifests/{tag}", content);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    private static async Task DeleteLayersAsync(RegistryServer registry, string repository, string tag)
    {
        using var client = registry.CreateHttpClient();
        using var get = new HttpRequestMessage(HttpMethod.Get, $"v2/{repository}/manifests/{tag}");
        get.Headers.Accept.ParseAdd(MediaTypes.OciManifest);
        using var response = await client.SendAsync(get);
        var manifest = OciJson.Deserialize<Manifest>(await response.Content.ReadAsByteArrayAsync());
        Assert.NotEmpty(manifest.Layers);
        foreach (var layer in manifest.Layers)
        {
            using var delete = await client.DeleteAsync($"v2/{repository}/blobs/{layer.Digest}");
            Assert.Equal(HttpStatusCode.Accepted, delete.StatusCode);
        }
    }
}
