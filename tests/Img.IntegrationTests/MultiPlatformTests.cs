using System.Formats.Tar;
using System.Text.Json;
using Img.Oci;
using Img.TestSupport;

namespace Img.IntegrationTests;

/// <summary>
/// <c>img build --platform linux/amd64,linux/arm64</c> end to end, offline: a real multi-arch busybox image made by a
/// COPY-only cross build from Debian's busybox-static binaries (the arm64 one fetched by tools/setup-machine.sh),
/// pushed to a real registry, read back by skopeo, pulled into an empty state, and used as the base of builds whose
/// arm64 RUN steps run under qemu-user-static through binfmt_misc.
/// </summary>
public sealed class MultiPlatformTests
{
    private const string Dockerfile = """
        FROM scratch
        ARG TARGETARCH
        ARG TARGETPLATFORM
        COPY busybox-${TARGETARCH} /bin/busybox
        COPY links/ /bin/
        COPY arch-${TARGETARCH}.txt /arch
        LABEL target=$TARGETPLATFORM
        CMD ["sh"]
        """;

    private static readonly string Host = Platform.Host.Architecture;

    /// <summary>A build context for the busybox cross build: both binaries, <c>links/sh → busybox</c>, one marker file per architecture.</summary>
    private static string BusyboxContext()
    {
        if (Host != "amd64") throw new InvalidOperationException("these tests build amd64 and arm64 images on an amd64 host");
        var ctx = TestUser.CreateOwnedTempDir("img-multi-ctx");
        foreach (var arch in new[] { "amd64", "arm64" })
        {
            File.Copy(ForeignBusybox.PathFor(arch), Path.Combine(ctx, "busybox-" + arch));
            File.WriteAllText(Path.Combine(ctx, $"arch-{arch}.txt"), arch + "\n");
        }
        Directory.CreateDirectory(Path.Combine(ctx, "links"));
        File.CreateSymbolicLink(Path.Combine(ctx, "links", "sh"), "busybox");
        File.WriteAllText(Path.Combine(ctx, "Dockerfile"), Dockerfile);
        return ctx;
    }

    private static string Context(string dockerfile)
    {
        var ctx = TestUser.CreateOwnedTempDir("img-multi-ctx");
        File.WriteAllText(Path.Combine(ctx, "Dockerfile"), dockerfile);
        return ctx;
    }

    private static async Task<JsonDocument> SkopeoRawAsync(string reference, bool config = false)
    {
        var args = new List<string> { "inspect", "--tls-verify=false", "--raw" };
        if (config) args.Add("--config");
        args.Add("docker://" + reference);
        var r = (await ImgCli.AsUserAsync("skopeo", [.. args])).EnsureSuccess("skopeo " + string.Join(' ', args));
        return JsonDocument.Parse(r.Stdout);
    }

    [Fact]
    public async Task CopyOnlyCrossBuildMakesAnIndexThatPushesAndPullsBackForTheHost()
    {
        await using var registry = await RegistryServer.StartAsync(RegistryShape.Plain);
        var img = new ImgCli();
        var ctx = BusyboxContext();
        var name = $"{registry.HostPort}/multi/busybox:v1";

        var build = await img.RunAsync("build", "--no-console", "--platform", "linux/amd64", "--platform", "linux/arm64,linux/amd64", "-t", name, ctx);
        Assert.Contains("[linux/arm64 stage-0 2/4] COPY busybox-${TARGETARCH} /bin/busybox", build.Stderr);
        Assert.Contains("[linux/amd64 stage-0 4/4] COPY arch-${TARGETARCH}.txt /arch", build.Stderr);
        Assert.Matches(@"exporting manifest list sha256:[0-9a-f]{64} done", build.Stderr);
        // Reading the Dockerfile is one step, not one per platform.
        Assert.Single(build.Stderr.Split('\n'), l => l.EndsWith(" [internal] load build definition from Dockerfile", StringComparison.Ordinal));

        await img.RunAsync("push", name);
        using var index = await SkopeoRawAsync(name);
        Assert.Equal(MediaTypes.DockerManifestList, index.RootElement.GetProperty("mediaType").GetString());
        var entries = index.RootElement.GetProperty("manifests").EnumerateArray().ToList();
        Assert.Equal(["amd64", "arm64"], entries.Select(e => e.GetProperty("platform").GetProperty("architecture").GetString()));
        foreach (var entry in entries)
        {
            Assert.Equal(MediaTypes.DockerManifest, entry.GetProperty("mediaType").GetString());
            var arch = entry.GetProperty("platform").GetProperty("architecture").GetString();
            Assert.Equal("linux", entry.GetProperty("platform").GetProperty("os").GetString());
            using var config = await SkopeoRawAsync($"{registry.HostPort}/multi/busybox@{entry.GetProperty("digest").GetString()}", config: true);
            Assert.Equal(arch, config.RootElement.GetProperty("architecture").GetString());
            Assert.Equal("linux", config.RootElement.GetProperty("os").GetString());
            Assert.Equal($"linux/{arch}", config.RootElement.GetProperty("config").GetProperty("Labels").GetProperty("target").GetString());
        }

        // The ls digest is the index's, and the registry holds the same bytes.
        var ls = await img.RunAsync("ls");
        var digest = Digest.Compute(System.Text.Encoding.UTF8.GetBytes((await ImgCli.AsUserAsync("skopeo", "inspect", "--tls-verify=false", "--raw", "docker://" + name)).Stdout));
        Assert.Contains(digest.ToString(), ls.Stdout);

        // An empty state pulls the host's image out of the index: ls sizes it, unpack unpacks it.
        var other = new ImgCli();
        var pull = await other.RunAsync("pull", name);
        Assert.Contains($"Pulled: {digest}", pull.Stdout);
        var cells = (await other.RunAsync("ls")).Stdout.Split('\n')[1].Split('\t', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(digest.ToString(), cells[4]);
        Assert.Matches(@"^\d+(\.\d+)?(KiB|MiB)$", cells[1]);
        var rootfs = Path.Combine(TestUser.CreateOwnedTempDir("img-multi-unpack"), "rootfs");
        await other.RunAsync("unpack", "-o", rootfs, name);
        Assert.Equal(Host + "\n", File.ReadAllText(Path.Combine(rootfs, "arch")));
        Assert.Equal(File.ReadAllBytes("/bin/busybox"), File.ReadAllBytes(Path.Combine(rootfs, "bin", "busybox")));
        Assert.Equal("busybox", new FileInfo(Path.Combine(rootfs, "bin", "sh")).LinkTarget);
    }

    [Fact]
    public async Task DebugLinesReachTheRegistryClientOfAMultiPlatformPush()
    {
        await using var registry = await RegistryServer.StartAsync(RegistryShape.Plain);
        var img = new ImgCli();
        var build = await img.RunAsync("-d", "build", "--no-console", "--platform", "linux/amd64,linux/arm64", "--push",
            "-t", $"{registry.HostPort}/multi/debug:v1", BusyboxContext());
        // FROM scratch pulls nothing: the endpoint line comes from the push of the index, the multi-platform exporter's.
        Assert.Contains($"{registry.HostPort}: using ", build.Stderr);
        Assert.Matches(@"pushing manifest for [^\n]*/multi/debug:v1@sha256:[0-9a-f]{64} done", build.Stderr);
    }

    [Fact]
    public async Task ArchivesAndDirectoriesHoldEveryPlatform()
    {
        var img = new ImgCli();
        var ctx = BusyboxContext();
        var outDir = TestUser.CreateOwnedTempDir("img-multi-out");
        const string platforms = "linux/amd64,linux/arm64";

        // -o type=local: one directory per platform, each with its own TARGETARCH files.
        await img.RunAsync("build", "--no-console", "--platform", platforms, "-o", $"type=local,dest={outDir}/local", ctx);
        Assert.Equal(["linux_amd64", "linux_arm64"], Directory.GetDirectories(Path.Combine(outDir, "local")).Select(Path.GetFileName).Order());
        Assert.Equal("arm64\n", File.ReadAllText(Path.Combine(outDir, "local", "linux_arm64", "arch")));
        Assert.Equal(File.ReadAllBytes(ForeignBusybox.PathFor("arm64")), File.ReadAllBytes(Path.Combine(outDir, "local", "linux_arm64", "bin", "busybox")));
        Assert.Equal("amd64\n", File.ReadAllText(Path.Combine(outDir, "local", "linux_amd64", "arch")));

        // -o type=tar: the same, as top-level directories of one tar.
        await img.RunAsync("build", "--no-console", "--platform", platforms, "-o", $"type=tar,dest={outDir}/rootfs.tar", ctx);
        var names = new List<string>();
        await using (var f = File.OpenRead(Path.Combine(outDir, "rootfs.tar")))
        using (var tar = new TarReader(f))
            while (tar.GetNextEntry() is { } e) names.Add(e.Name.TrimEnd('/'));
        Assert.Contains("linux_amd64/arch", names);
        Assert.Contains("linux_arm64/bin/busybox", names);
        Assert.Contains("linux_arm64", names);

        // -o type=oci: an OCI layout whose one entry is an OCI index of both manifests.
        await img.RunAsync("build", "--no-console", "--platform", platforms, "-o", $"type=oci,dest={outDir}/oci.tar,name=multi/oci:v1", ctx);
        var layout = Path.Combine(outDir, "oci");
        Directory.CreateDirectory(layout);
        await TarFile.ExtractToDirectoryAsync(Path.Combine(outDir, "oci.tar"), layout, false);
        using (var top = JsonDocument.Parse(File.ReadAllText(Path.Combine(layout, "index.json"))))
        {
            var entry = Assert.Single(top.RootElement.GetProperty("manifests").EnumerateArray());
            Assert.Equal(MediaTypes.OciIndex, entry.GetProperty("mediaType").GetString());
            var hex = entry.GetProperty("digest").GetString()!["sha256:".Length..];
            using var index = JsonDocument.Parse(File.ReadAllText(Path.Combine(layout, "blobs", "sha256", hex)));
            Assert.Equal(["linux/amd64", "linux/arm64"], index.RootElement.GetProperty("manifests").EnumerateArray()
                .Select(m => m.GetProperty("platform").GetProperty("os").GetString() + "/" + m.GetProperty("platform").GetProperty("architecture").GetString()));
        }
        // skopeo picks the platform it is asked for out of the layout's index.
        var arm = await ImgCli.AsUserAsync("skopeo", "--override-arch", "arm64", "inspect", "--config", "--raw", $"oci-archive:{outDir}/oci.tar:v1");
        arm.EnsureSuccess("skopeo inspect oci-archive");
        Assert.Contains("\"architecture\":\"arm64\"", arm.Stdout);

        // img save of a multi-platform image: the index whole, docker's manifest.json naming the host's image.
        // (OCI media types: skopeo and umoci find only OCI documents in an OCI layout's index.json.)
        await img.RunAsync("build", "--no-console", "--platform", platforms, "-o", "type=image,name=multi/saved:v1,oci-mediatypes=true", ctx);
        var saved = Path.Combine(outDir, "saved.tar");
        await img.RunAsync("save", "-o", saved, "multi/saved:v1");
        var savedDir = Path.Combine(outDir, "saved");
        Directory.CreateDirectory(savedDir);
        await TarFile.ExtractToDirectoryAsync(saved, savedDir, false);
        using (var top = JsonDocument.Parse(File.ReadAllText(Path.Combine(savedDir, "index.json"))))
            Assert.Equal(MediaTypes.OciIndex, Assert.Single(top.RootElement.GetProperty("manifests").EnumerateArray()).GetProperty("mediaType").GetString());
        using (var manifestJson = JsonDocument.Parse(File.ReadAllText(Path.Combine(savedDir, "manifest.json"))))
        {
            var config = Assert.Single(manifestJson.RootElement.EnumerateArray()).GetProperty("Config").GetString()!;
            Assert.Contains($"\"architecture\":\"{Host}\"", File.ReadAllText(Path.Combine(savedDir, config)));
        }
        var dockerArchive = await ImgCli.AsUserAsync("skopeo", "inspect", "--config", "--raw", $"docker-archive:{saved}");
        dockerArchive.EnsureSuccess("skopeo inspect docker-archive");
        Assert.Contains($"\"architecture\":\"{Host}\"", dockerArchive.Stdout);
        // umoci reads no nested index: skopeo takes one platform out of the saved layout, umoci unpacks that.
        var work = TestUser.CreateOwnedTempDir("img-multi-umoci");
        (await ImgCli.AsUserAsync("skopeo", "--override-arch", "arm64", "copy", $"oci-archive:{saved}:v1", $"oci:{work}/arm:v1")).EnsureSuccess("skopeo copy");
        (await ImgCli.AsUserAsync("umoci", "unpack", "--rootless", "--image", $"{work}/arm:v1", $"{work}/bundle")).EnsureSuccess("umoci unpack");
        Assert.Equal("arm64\n", File.ReadAllText(Path.Combine(work, "bundle", "rootfs", "arch")));
    }

    [Fact]
    public async Task ArmRunStepsRunUnderQemuAndBaseImagesResolvePerPlatform()
    {
        await using var registry = await RegistryServer.StartAsync(RegistryShape.Plain);
        var builder = new ImgCli();
        var name = $"{registry.HostPort}/multi/base:v1";
        await builder.RunAsync("build", "--no-console", "--platform", "linux/amd64,linux/arm64", "-t", name, BusyboxContext());
        await builder.RunAsync("push", name);

        // An empty state holding only the host's image from the index: the arm64 base is fetched from the registry.
        var img = new ImgCli();
        await img.RunAsync("pull", name);
        var ctx = Context($"FROM {name}\nARG TARGETARCH\nRUN uname -m > /machine && echo $TARGETARCH > /targetarch && cat /arch > /base-arch\n");
        var outDir = TestUser.CreateOwnedTempDir("img-multi-run");
        var build = await img.RunAsync("build", "--no-console", "--platform", "linux/amd64,linux/arm64", "-o", $"type=local,dest={outDir}/out", ctx);
        Assert.Contains($"[linux/arm64 internal] load metadata for {name}", build.Stderr);
        Assert.Contains("[linux/arm64 stage-0 2/2] RUN uname -m", build.Stderr);
        Assert.Equal("aarch64\n", File.ReadAllText(Path.Combine(outDir, "out", "linux_arm64", "machine")));
        Assert.Equal("arm64\n", File.ReadAllText(Path.Combine(outDir, "out", "linux_arm64", "targetarch")));
        Assert.Equal("arm64\n", File.ReadAllText(Path.Combine(outDir, "out", "linux_arm64", "base-arch")));
        Assert.Equal("x86_64\n", File.ReadAllText(Path.Combine(outDir, "out", "linux_amd64", "machine")));
        Assert.Equal("amd64\n", File.ReadAllText(Path.Combine(outDir, "out", "linux_amd64", "base-arch")));

        // FROM --platform=$BUILDPLATFORM: the builder stage runs natively for every target, its output copied across.
        var cross = Context($"""
            FROM --platform=$BUILDPLATFORM {name} AS build
            ARG TARGETARCH
            RUN uname -m > /built-on && echo $TARGETARCH > /built-for
            FROM scratch
            COPY --from=build /built-on /built-for /
            """);
        await img.RunAsync("build", "--no-console", "--platform", "linux/amd64,linux/arm64", "-o", $"type=local,dest={outDir}/cross", cross);
        Assert.Equal("x86_64\n", File.ReadAllText(Path.Combine(outDir, "cross", "linux_arm64", "built-on")));
        Assert.Equal("arm64\n", File.ReadAllText(Path.Combine(outDir, "cross", "linux_arm64", "built-for")));
        Assert.Equal("amd64\n", File.ReadAllText(Path.Combine(outDir, "cross", "linux_amd64", "built-for")));

        // A local image with no arm64 at all (built for the host only) is a clear error, not a registry lookup.
        await img.RunAsync("build", "--no-console", "-t", "hostonly", Context($"FROM {name}\nRUN true\n"));
        var missing = await img.TryAsync("build", "--no-console", "--platform", "linux/arm64", "-t", "x", Context("FROM hostonly\nRUN true\n"));
        Assert.Equal(1, missing.ExitCode);
        Assert.Matches(@"Error: failed to solve: docker\.io/library/hostonly:latest: no match for platform linux/arm64 in manifest sha256:[0-9a-f]{64}: not found\n$", missing.Stderr);
    }

    [Fact]
    public async Task RunForAPlatformWithoutAHandlerSaysWhatToInstall()
    {
        // aarch64_be: a Linux architecture qemu-user-static (Debian 12) registers no binfmt_misc handler for.
        const string beMagic = "7f454c46020201000000000000000000000200b7";
        foreach (var entry in Directory.EnumerateFiles("/proc/sys/fs/binfmt_misc").Where(f => Path.GetFileName(f) is not ("register" or "status")))
            Assert.False(File.ReadAllText(entry).Contains("magic " + beMagic, StringComparison.Ordinal), $"{entry} handles aarch64_be; this test needs an architecture without a handler");
        var img = new ImgCli();
        // The amd64 side runs its step; the arm64be side stops before starting anything.
        var ctx = Context("FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"true\"]\n");
        File.Copy("/bin/busybox", Path.Combine(ctx, "busybox"));
        var r = await img.TryAsync("build", "--no-console", "--platform", "linux/amd64,linux/arm64be", "-t", "nohandler", ctx);
        Assert.Equal(1, r.ExitCode);
        Assert.EndsWith("Error: failed to solve: RUN for linux/arm64be needs an emulator: no binfmt_misc handler for aarch64_be with the F flag; install qemu-user-static\n", r.Stderr);
        Assert.DoesNotContain("exec format error", r.Stderr);
        Assert.DoesNotContain("nohandler", (await img.RunAsync("ls")).Stdout);
    }

    [Fact]
    public async Task NoCacheRunsAStepThePlatformsShareOnce()
    {
        var img = new ImgCli();
        var ctx = BusyboxContext();
        File.WriteAllText(Path.Combine(ctx, "Dockerfile"), "FROM scratch\nCOPY links/ /bin/\nARG TARGETARCH\nCOPY busybox-${TARGETARCH} /bin/busybox\n");
        await img.RunAsync("build", "--no-console", "--platform", "linux/amd64,linux/arm64", "-t", "shared", ctx);
        // COPY links/ is the same step on both platforms (FROM scratch, no platform in its inputs): run once, then
        // reused by the other platform, rather than run twice with the second run removing the first one's result.
        var again = await img.RunAsync("build", "--no-console", "--no-cache", "--platform", "linux/amd64,linux/arm64", "-t", "shared", ctx);
        var lines = again.Stderr.Split('\n');
        var shared = lines.Where(l => l.StartsWith('#') && l.EndsWith("stage-0 2/3] COPY links/ /bin/", StringComparison.Ordinal)).Distinct().ToList();
        Assert.Equal(2, shared.Count);
        var cached = Assert.Single(lines, l => l.EndsWith(" CACHED", StringComparison.Ordinal));
        var step = cached[..cached.IndexOf(' ', StringComparison.Ordinal)];
        Assert.Single(shared, l => l.StartsWith(step + " [", StringComparison.Ordinal));
    }

    [Fact]
    public async Task OnePlatformBuildsOneManifestAsBefore()
    {
        var img = new ImgCli();
        var ctx = BusyboxContext();
        // Repeated and normalised platforms are one platform: x86_64 is amd64.
        var build = await img.RunAsync("build", "--no-console", "--platform", "linux/amd64,linux/x86_64", "--platform", "amd64", "-t", "single", ctx);
        Assert.Contains("[stage-0 2/4] COPY busybox-${TARGETARCH} /bin/busybox", build.Stderr);
        Assert.DoesNotContain("linux/amd64", build.Stderr);
        Assert.DoesNotContain("manifest list", build.Stderr);
        Assert.Matches(@"#\d+ exporting manifest sha256:[0-9a-f]{64} done", build.Stderr);

        var outDir = TestUser.CreateOwnedTempDir("img-multi-single");
        await img.RunAsync("save", "--format", "oci", "-o", Path.Combine(outDir, "single.tar"), "single");
        var layout = Path.Combine(outDir, "layout");
        Directory.CreateDirectory(layout);
        await TarFile.ExtractToDirectoryAsync(Path.Combine(outDir, "single.tar"), layout, false);
        using var top = JsonDocument.Parse(File.ReadAllText(Path.Combine(layout, "index.json")));
        Assert.Equal(MediaTypes.DockerManifest, Assert.Single(top.RootElement.GetProperty("manifests").EnumerateArray()).GetProperty("mediaType").GetString());

        var bad = await img.TryAsync("build", "--no-console", "--platform", "linux/amd64,linux//arm64", "-t", "bad", ctx);
        Assert.Equal(1, bad.ExitCode);
        Assert.StartsWith("Error: invalid platform \"linux//arm64\"", bad.Stderr);
    }
}
