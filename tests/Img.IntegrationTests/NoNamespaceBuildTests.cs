using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using Img.TestSupport;
using Xunit.Abstractions;

namespace Img.IntegrationTests;

/// <summary>
/// Builds as a host user without subordinate ids, where img runs RUN under proot and records owners itself (a RUN's
/// chown from proot's trace), compared with the same build by the test user in a user namespace: every layer and the
/// flattened root must carry the same entries, owners, modes, whiteouts and contents.
/// </summary>
public sealed class NoNamespaceBuildTests(ITestOutputHelper output)
{
    private const string Dockerfile = """
        FROM base AS build
        RUN echo built > /built && chmod 0640 /built
        FROM base
        RUN echo hello > /f && chown 1234:1234 /f && rm /bin/vi && echo 'svc:x:1500:1500::/:/bin/sh' >> /etc/passwd && mkdir -p /made/deep && chmod 0700 /made
        COPY --chown=1234:1234 ctx/ /ctx/
        COPY --from=build /built /from-build
        COPY --chown=7:7 <<EOF /heredoc
        hi
        EOF
        """;

    [NoSubordinateIdsFact]
    public async Task BuildWithoutSubordinateIdsMatchesTheNamespaceBuild()
    {
        var nosub = TestUser.WithoutSubordinateIds(out _)!;
        var baseTar = await OwnedBaseAsync();
        var (hostTar, hostLayers, _) = await BuildAsync(new ImgCli(), baseTar);
        var (prootTar, prootLayers, stderr) = await BuildAsync(new ImgCli(user: nosub), baseTar);

        Assert.Contains("RUN steps run under proot", stderr, StringComparison.Ordinal);
        Assert.Contains("executor proot", stderr, StringComparison.Ordinal);
        // The base image's owners survive a tree the user owns entirely.
        Assert.Equal("0:42 640", Owner(prootTar, "etc/shadow"));
        Assert.Equal("1000:1000 750", Owner(prootTar, "home/app/"));
        Assert.Equal("0:0 4755", Owner(prootTar, "usr/bin/sux"));
        Assert.Equal("1234:1234 644", Owner(prootTar, "ctx/a.txt"));
        Assert.Equal("7:7 644", Owner(prootTar, "heredoc"));
        Assert.Equal("0:0 640", Owner(prootTar, "from-build"));
        Assert.Equal("0:0 700", Owner(prootTar, "made/"));
        Assert.False(prootTar.ContainsKey("bin/vi"));
        // proot's fake root makes RUN's chown change nothing on disk; img records it from proot's trace.
        Assert.Equal("1234:1234 644", Owner(hostTar, "f"));
        Assert.Equal("1234:1234 644", Owner(prootTar, "f"));
        Assert.Contains("recorded 1 owner change", stderr, StringComparison.Ordinal);

        AssertSame(hostTar, prootTar, "flattened root");
        Assert.Equal(hostLayers.Count, prootLayers.Count);
        for (int i = 0; i < hostLayers.Count; i++)
            AssertSame(hostLayers[i], prootLayers[i], $"layer {i}");
        Assert.Contains("bin/.wh.vi", prootLayers[1].Keys); // the base, then the RUN
    }

    [NoSubordinateIdsFact]
    public async Task InfoNamesTheRungAndAnUnknownIsolationIsOneLine()
    {
        var img = new ImgCli(user: TestUser.WithoutSubordinateIds(out _)!);
        var info = await img.RunAsync("info");
        Assert.Matches(@"rung\s+: proot, no namespace \(no subordinate uid range for ", info.Stdout);
        Assert.Contains("cost", info.Stdout, StringComparison.Ordinal);

        var host = new ImgCli();
        host.Env["IMG_ISOLATION"] = "sandbox";
        var refused = await host.TryAsync("ls");
        Assert.Equal(1, refused.ExitCode);
        Assert.Equal("Error: IMG_ISOLATION=sandbox is not an isolation: use auto, userns or proot", refused.Stderr.Trim());

        // Asked for by a user who could have a namespace: the same rung, named at -d.
        host.Env["IMG_ISOLATION"] = "proot";
        await host.RunAsync("import", await BusyboxRootfs.TarballAsync(), "bb");
        var context = TestUser.CreateOwnedTempDir("forced-ctx");
        await File.WriteAllTextAsync(Path.Combine(context, "Dockerfile"), "FROM bb\nRUN echo forced > /forced && chown 1000:1000 /forced\n");
        var tar = Path.Combine(TestUser.CreateOwnedTempDir("forced-out"), "root.tar");
        var build = await host.RunAsync("-d", "build", "--progress", "plain", "-o", $"type=tar,dest={tar}", context);
        Assert.Contains("RUN steps run under proot, without namespaces: IMG_ISOLATION=proot", build.Stderr, StringComparison.Ordinal);
        Assert.Equal("1000:1000 644", Owner(Entries(File.OpenRead(tar)), "forced"));
    }

    [NoSubordinateIdsFact]
    public async Task AptInstallGivesTheOwnersOfTheNamespaceBuild()
    {
        var nosub = TestUser.WithoutSubordinateIds(out _)!;
        const string dockerfile = """
            FROM debian:bookworm
            RUN apt-get update && apt-get install -y --no-install-recommends hello && rm -rf /var/lib/apt/lists/*
            RUN hello
            """;
        async Task<Dictionary<string, string>> Build(ImgCli img)
        {
            await img.RunAsync("import", await DebianRootfs.TarballAsync(), "debian:bookworm");
            var context = TestUser.CreateOwnedTempDir("apt-nons", img.User);
            await File.WriteAllTextAsync(Path.Combine(context, "Dockerfile"), dockerfile + "\n");
            var tar = Path.Combine(TestUser.CreateOwnedTempDir("apt-nons-out", img.User), "root.tar");
            var r = await img.RunAsync("build", "--progress", "plain", "-b", "native", "-o", $"type=tar,dest={tar}", context);
            Assert.Contains("Hello, world!", r.Stderr, StringComparison.Ordinal);
            // Type, owner and mode of every path (apt's caches and logs hold times, so contents differ between runs).
            return Entries(File.OpenRead(tar)).ToDictionary(e => e.Key, e => string.Join(' ', e.Value.Split(' ')[..3]), StringComparer.Ordinal);
        }
        var host = await Build(new ImgCli());
        var proot = await Build(new ImgCli(user: nosub));
        // apt chowns its download directory to _apt: recorded from the trace, as the namespace build's kernel kept it.
        Assert.DoesNotContain(" 0:0 ", host["var/cache/apt/archives/partial/"], StringComparison.Ordinal);
        Assert.Equal(host["var/cache/apt/archives/partial/"], proot["var/cache/apt/archives/partial/"]);
        // The base's device nodes: a user namespace cannot mknod (the namespace build skips them with a warning),
        // the recorded ones are kept as the image has them.
        var devices = proot.Where(e => e.Value.StartsWith("CharacterDevice ", StringComparison.Ordinal)).Select(e => e.Key).ToList();
        Assert.Contains("dev/null", devices);
        Assert.All(devices, d => Assert.False(host.ContainsKey(d)));
        AssertSame(host, proot.Where(e => !devices.Contains(e.Key)).ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal), "apt's root");
    }

    [NoSubordinateIdsFact]
    public async Task RunStepCannotReachTheStateDirectoryOrCredentials()
    {
        var nosub = TestUser.WithoutSubordinateIds(out _)!;
        var img = new ImgCli(user: nosub);
        var secret = "cred-canary-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var docker = TestUser.CreateOwnedTempDir("docker-config", nosub);
        await File.WriteAllTextAsync(Path.Combine(docker, "config.json"), "{\"auths\":{\"canary.example\":{\"auth\":\"" + secret + "\"}}}");
        (await ProcessRunner.RunAsync("chown", ["-R", $"{nosub}:{nosub}", docker])).EnsureSuccess("chown");
        img.Env["DOCKER_CONFIG"] = docker;
        await img.RunAsync("import", await OwnedBaseAsync(), "base");
        var context = TestUser.CreateOwnedTempDir("canary-ctx", nosub);
        // Every way a path could lead out: the paths themselves, and /proc/PID/{root,cwd,fd,environ} of every process
        // (file descriptors listed, not read: a pipe's read would wait forever).
        await File.WriteAllTextAsync(Path.Combine(context, "Dockerfile"), $$"""
            FROM base
            RUN (cat {{docker}}/config.json; ls -R {{img.StateDir}}; \
                 for p in /proc/[0-9]*; do cat $p/root{{docker}}/config.json $p/cwd/config.json $p/environ; \
                 ls -R $p/root{{img.StateDir}} $p/cwd/; ls -l $p/fd/; done) > /probe 2>&1; true
            """);
        (await ProcessRunner.RunAsync("chown", ["-R", $"{nosub}:{nosub}", context])).EnsureSuccess("chown");
        var result = TestUser.CreateOwnedTempDir("canary-out", nosub);
        var tar = Path.Combine(result, "out.tar");
        await img.RunAsync("build", "--progress", "plain", "-o", $"type=tar,dest={tar}", context);
        var probe = ReadEntry(tar, "probe");
        output.WriteLine(probe.Length > 3000 ? probe[..3000] : probe);
        // The probe ran and looked: its own failures name the credentials path and the processes it walked.
        Assert.Contains("config.json", probe, StringComparison.Ordinal);
        Assert.Contains("/proc/", probe, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, probe, StringComparison.Ordinal);
        Assert.DoesNotContain("metadata.db", probe, StringComparison.Ordinal);
    }

    private async Task<(Dictionary<string, string> Root, List<Dictionary<string, string>> Layers, string Stderr)> BuildAsync(ImgCli img, string baseTar)
    {
        await img.RunAsync("import", baseTar, "base");
        var context = TestUser.CreateOwnedTempDir("nons-ctx", img.User);
        await File.WriteAllTextAsync(Path.Combine(context, "Dockerfile"), Dockerfile);
        var ctx = Path.Combine(context, "ctx");
        Directory.CreateDirectory(Path.Combine(ctx, "sub"));
        await File.WriteAllTextAsync(Path.Combine(ctx, "a.txt"), "a\n");
        await File.WriteAllTextAsync(Path.Combine(ctx, "sub", "b.txt"), "b\n");
        File.CreateSymbolicLink(Path.Combine(ctx, "link"), "a.txt");
        File.CreateSymbolicLink(Path.Combine(ctx, "sub", "up"), "../a.txt");
        File.CreateSymbolicLink(Path.Combine(ctx, "abs"), "/etc/passwd");
        (await ProcessRunner.RunAsync("chown", ["-R", $"{img.User ?? TestUser.Name}:{img.User ?? TestUser.Name}", context])).EnsureSuccess("chown");
        var outDir = TestUser.CreateOwnedTempDir("nons-out", img.User);
        var tar = Path.Combine(outDir, "root.tar");
        // native on both sides: the same tree diff writes both sets of layers.
        var build = await img.RunAsync("-d", "build", "-b", "native", "--progress", "plain", "-t", "nons", context);
        await img.RunAsync("build", "-b", "native", "-o", $"type=tar,dest={tar}", context);
        var archive = Path.Combine(outDir, "image.oci.tar");
        await img.RunAsync("save", "--format", "oci", "-o", archive, "nons");
        output.WriteLine($"{img.User ?? TestUser.Name}: {build.Stderr.Split('\n').Length} lines of build output");
        return (Entries(File.OpenRead(tar)), Layers(archive), build.Stderr);
    }

    /// <summary>A base image whose files have owners other than root: the shadow group, a user's home, a setuid program.</summary>
    private static async Task<string> OwnedBaseAsync()
    {
        var dir = TestUser.CreateOwnedTempDir("owned-base");
        var root = Path.Combine(dir, "rootfs");
        Directory.CreateDirectory(root);
        (await ProcessRunner.RunAsync("tar", ["-xf", await BusyboxRootfs.TarballAsync(), "-C", root])).EnsureSuccess("tar -x");
        Directory.CreateDirectory(Path.Combine(root, "usr", "bin"));
        await File.WriteAllTextAsync(Path.Combine(root, "etc", "shadow"), "root:*:19000:0:99999:7:::\n");
        await File.WriteAllTextAsync(Path.Combine(root, "home", "app", ".profile"), "PS1=app\n");
        File.Copy("/bin/busybox", Path.Combine(root, "usr", "bin", "sux"));
        foreach (var (path, owner, mode) in new[]
        {
            ("etc/shadow", "0:42", "0640"), ("home/app", "1000:1000", "0750"), ("home/app/.profile", "1000:1000", "0600"), ("usr/bin/sux", "0:0", "4755"),
        })
        {
            (await ProcessRunner.RunAsync("chown", [owner, Path.Combine(root, path)])).EnsureSuccess("chown");
            (await ProcessRunner.RunAsync("chmod", [mode, Path.Combine(root, path)])).EnsureSuccess("chmod");
        }
        var tar = Path.Combine(dir, "owned-base.tar");
        (await ProcessRunner.RunAsync("tar", ["--numeric-owner", "-C", root, "-cf", tar, "."])).EnsureSuccess("tar -c");
        File.SetUnixFileMode(tar, (UnixFileMode)0b110_100_100);
        return tar;
    }

    private static string Owner(Dictionary<string, string> entries, string name) =>
        entries.TryGetValue(name, out var e) ? string.Join(' ', e.Split(' ')[1..3]) : "(absent)";

    private static void AssertSame(Dictionary<string, string> expected, Dictionary<string, string> actual, string what)
    {
        var differences = expected.Keys.Union(actual.Keys).Order(StringComparer.Ordinal)
            .Where(k => expected.GetValueOrDefault(k) != actual.GetValueOrDefault(k))
            .Select(k => $"{k}: namespace {expected.GetValueOrDefault(k) ?? "(none)"}, proot {actual.GetValueOrDefault(k) ?? "(none)"}")
            .ToList();
        Assert.True(differences.Count == 0, $"{what} differs:\n" + string.Join('\n', differences.Take(40)));
    }

    /// <summary>Each entry of a tar: type, uid:gid, octal mode, link target and content hash.</summary>
    private static Dictionary<string, string> Entries(Stream stream)
    {
        using (stream)
        using (var reader = new TarReader(stream))
        {
            var entries = new Dictionary<string, string>(StringComparer.Ordinal);
            while (reader.GetNextEntry() is { } e)
            {
                var name = e.Name.StartsWith("./", StringComparison.Ordinal) ? e.Name[2..] : e.Name;
                if (name.Length == 0) continue;
                if (e.EntryType == TarEntryType.Directory && !name.EndsWith('/')) name += "/";
                var hash = "";
                if (e.DataStream is { } data)
                {
                    using var copy = new MemoryStream();
                    data.CopyTo(copy);
                    hash = Convert.ToHexStringLower(SHA256.HashData(copy.ToArray()))[..16];
                }
                entries[name] = $"{e.EntryType} {e.Uid}:{e.Gid} {Convert.ToString((int)e.Mode, 8)} {e.LinkName} {hash}";
            }
            return entries;
        }
    }

    private static string ReadEntry(string tar, string name)
    {
        using var reader = new TarReader(File.OpenRead(tar));
        while (reader.GetNextEntry() is { } e)
            if (e.Name.TrimStart('.', '/') == name && e.DataStream is { } data)
                return new StreamReader(data).ReadToEnd();
        throw new InvalidOperationException($"{name} is not in {tar}");
    }

    /// <summary>Every layer of the saved image, in order.</summary>
    private static List<Dictionary<string, string>> Layers(string archive)
    {
        var blobs = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        using (var reader = new TarReader(File.OpenRead(archive)))
            while (reader.GetNextEntry() is { } e)
                if (e.DataStream is { } data)
                {
                    using var copy = new MemoryStream();
                    data.CopyTo(copy);
                    blobs[e.Name.TrimStart('.', '/')] = copy.ToArray();
                }
        byte[] Blob(string digest) => blobs["blobs/sha256/" + digest["sha256:".Length..]];
        using var index = JsonDocument.Parse(blobs["index.json"]);
        using var manifest = JsonDocument.Parse(Blob(index.RootElement.GetProperty("manifests")[0].GetProperty("digest").GetString()!));
        var layers = new List<Dictionary<string, string>>();
        foreach (var layer in manifest.RootElement.GetProperty("layers").EnumerateArray())
        {
            Stream stream = new MemoryStream(Blob(layer.GetProperty("digest").GetString()!));
            if (layer.GetProperty("mediaType").GetString()!.EndsWith("gzip", StringComparison.Ordinal)) stream = new GZipStream(stream, CompressionMode.Decompress);
            layers.Add(Entries(stream));
        }
        return layers;
    }
}

/// <summary>A fact that needs the host user without subordinate ids: skipped, with the reason, where there is none.</summary>
public sealed class NoSubordinateIdsFactAttribute : FactAttribute
{
    public NoSubordinateIdsFactAttribute()
    {
        if (TestUser.WithoutSubordinateIds(out var why) is null) Skip = why;
    }
}
