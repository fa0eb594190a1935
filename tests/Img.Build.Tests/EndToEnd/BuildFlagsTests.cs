using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Img.Oci;
using Img.TestSupport;

namespace Img.Build.Tests.EndToEnd;

/// <summary>
/// The flags CI scripts pass to <c>docker build</c> / <c>docker buildx build</c>, each end to end as the unprivileged
/// user against a real registry, with what they produce read back (the registry, the store, the files written).
/// </summary>
[Collection("img build")]
public sealed class BuildFlagsTests(ImgBuildFixture img)
{
    private static readonly string[] s_manifestTypes = [MediaTypes.OciIndex, MediaTypes.DockerManifestList, MediaTypes.OciManifest, MediaTypes.DockerManifest];

    /// <summary>A manifest or index as the registry serves it: its digest header and its document.</summary>
    private static async Task<(string Digest, JsonDocument Document)> RegistryManifestAsync(RegistryServer registry, string repository, string reference)
    {
        using var client = registry.CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"v2/{repository}/manifests/{reference}");
        foreach (var t in s_manifestTypes) request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(t));
        using var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET {repository}:{reference}: {(int)response.StatusCode} {body}");
        return (response.Headers.GetValues("Docker-Content-Digest").Single(), JsonDocument.Parse(body));
    }

    private async Task<string> StoredDigestAsync(string cwd, string name) =>
        ImgBuildFixture.DigestInListing((await img.ImgAsync(cwd, null, ["ls"])).EnsureSuccess("ls").Stdout, name);

    [Fact]
    public async Task PushSendsEveryTagWithTheStoredDigestAndTheFilesSayWhatWasBuilt()
    {
        await using var registry = await RegistryServer.StartAsync();
        var ctx = img.NewContext("FROM base\nRUN echo pushed > /pushed\n");
        var one = $"{registry.HostPort}/flags/push:one";
        var two = $"{registry.HostPort}/flags/push:two";
        var r = await img.BuildAsync(ctx, "--progress", "plain", "-t", one, "-t", two, "--push", "--iidfile", "iid", "--metadata-file", "meta.json", ".");
        r.EnsureSuccess("build --push");
        Assert.Matches(@"#\d+ pushing layers\n", r.Stderr);
        Assert.Contains($"pushing manifest for {one}@sha256:", r.Stderr);
        Assert.Contains($"pushing manifest for {two}@sha256:", r.Stderr);

        var stored = await StoredDigestAsync(ctx, one);
        var (digestOne, manifest) = await RegistryManifestAsync(registry, "flags/push", "one");
        var (digestTwo, _) = await RegistryManifestAsync(registry, "flags/push", "two");
        Assert.Equal(stored, digestOne);
        Assert.Equal(stored, digestTwo);

        // --iidfile: the image ID, which is the config digest of what the registry now holds.
        var configDigest = manifest.RootElement.GetProperty("config").GetProperty("digest").GetString();
        Assert.Equal(configDigest, File.ReadAllText(Path.Combine(ctx, "iid")));

        using var meta = JsonDocument.Parse(File.ReadAllText(Path.Combine(ctx, "meta.json")));
        var m = meta.RootElement;
        Assert.Equal(stored, m.GetProperty("containerimage.digest").GetString());
        Assert.Equal(configDigest, m.GetProperty("containerimage.config.digest").GetString());
        Assert.Equal(stored, m.GetProperty("containerimage.descriptor").GetProperty("digest").GetString());
        Assert.Equal(MediaTypes.DockerManifest, m.GetProperty("containerimage.descriptor").GetProperty("mediaType").GetString());
        Assert.True(m.GetProperty("containerimage.descriptor").GetProperty("size").GetInt64() > 0);
        Assert.Equal($"{one},{two}", m.GetProperty("image.name").GetString());
    }

    [Fact]
    public async Task OutputTypeRegistryAndImagePushTrueArePushes()
    {
        await using var registry = await RegistryServer.StartAsync();
        var ctx = img.NewContext("FROM base\nRUN echo reg > /reg\n");
        var viaRegistry = $"{registry.HostPort}/flags/out:registry";
        (await img.BuildAsync(ctx, "--no-console", "-o", $"type=registry,name={viaRegistry}", ".")).EnsureSuccess("-o type=registry");
        Assert.Equal(await StoredDigestAsync(ctx, viaRegistry), (await RegistryManifestAsync(registry, "flags/out", "registry")).Digest);

        var viaImage = $"{registry.HostPort}/flags/out:image";
        var r = await img.BuildAsync(ctx, "--no-console", "--load", "-o", $"type=image,name={viaImage},push=true", ".");
        r.EnsureSuccess("-o type=image,push=true --load");
        Assert.Equal(await StoredDigestAsync(ctx, viaImage), (await RegistryManifestAsync(registry, "flags/out", "image")).Digest);

        var bad = await img.BuildAsync(ctx, "--push", "-o", "type=tar,dest=x.tar", ".");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("Error: --push cannot be used with an output of type tar", bad.Stderr);
    }

    [Fact]
    public async Task RawJsonIsOneSolveStatusPerLineCoveringEveryStep()
    {
        var ctx = img.NewContext("FROM base\nRUN echo raw-output-line\nCOPY busybox /copied\n");
        var r = await img.BuildAsync(ctx, "--progress", "rawjson", "--no-cache", "-t", "flags-rawjson", ".");
        r.EnsureSuccess("build --progress rawjson");
        var started = new Dictionary<string, string>();
        var completed = new HashSet<string>();
        var logs = new StringBuilder();
        foreach (var line in r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            using var doc = JsonDocument.Parse(line); // every line is one JSON object, nothing else on stderr
            if (doc.RootElement.TryGetProperty("vertexes", out var vertexes))
            {
                foreach (var v in vertexes.EnumerateArray())
                {
                    var digest = v.GetProperty("digest").GetString()!;
                    Assert.StartsWith("sha256:", digest);
                    started[digest] = v.GetProperty("name").GetString()!;
                    DateTimeOffset.Parse(v.GetProperty("started").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
                    if (v.TryGetProperty("completed", out _)) completed.Add(digest);
                }
            }
            if (doc.RootElement.TryGetProperty("logs", out var entries))
            {
                foreach (var l in entries.EnumerateArray())
                {
                    Assert.True(started.ContainsKey(l.GetProperty("vertex").GetString()!));
                    logs.Append(Encoding.UTF8.GetString(l.GetProperty("data").GetBytesFromBase64()));
                }
            }
        }
        Assert.Contains(started.Values, n => n.Contains("RUN echo raw-output-line", StringComparison.Ordinal));
        Assert.Contains(started.Values, n => n.Contains("COPY busybox /copied", StringComparison.Ordinal));
        Assert.Contains(started.Values, n => n == "exporting to image");
        Assert.Equal(started.Keys.Order(), completed.Order());
        Assert.Contains("raw-output-line\n", logs.ToString());
    }

    [Fact]
    public async Task QuietPrintsOnlyTheImageIdAndNoConsoleIsPlain()
    {
        var ctx = img.NewContext("FROM base\nRUN echo quiet > /quiet\n");
        var q = await img.BuildAsync(ctx, "-q", "-t", "flags-quiet", "--iidfile", "iid", ".");
        q.EnsureSuccess("build -q");
        Assert.Equal("", q.Stderr);
        Assert.Matches("^sha256:[0-9a-f]{64}\n$", q.Stdout);
        Assert.Equal(q.Stdout.Trim(), File.ReadAllText(Path.Combine(ctx, "iid")));

        var failing = await img.BuildAsync(ctx, "--progress", "quiet", "-t", "flags-quiet", "--build-arg", "X=1", "-f", "missing.Dockerfile", ".");
        Assert.Equal(1, failing.ExitCode);
        Assert.Equal("", failing.Stdout);
        Assert.Contains("Error: failed to solve: failed to read dockerfile", failing.Stderr);

        var plain = await img.BuildAsync(ctx, "--progress", "plain", "-t", "flags-quiet", ".");
        var alias = await img.BuildAsync(ctx, "--no-console", "-t", "flags-quiet", ".");
        Assert.Matches(@"#\d+ \[stage-0 2/2\] RUN echo quiet > /quiet\n#\d+ CACHED", plain.EnsureSuccess("plain").Stderr);
        Assert.Matches(@"#\d+ \[stage-0 2/2\] RUN echo quiet > /quiet\n#\d+ CACHED", alias.EnsureSuccess("no-console").Stderr);

        var bad = await img.BuildAsync(ctx, "--progress", "fancy", "-t", "x", ".");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("Error: invalid progress mode \"fancy\": want auto, plain, tty, quiet or rawjson", bad.Stderr);
    }

    [Fact]
    public async Task StoredBaseIsUsedWithoutTheRegistryAndPullResolvesAfresh()
    {
        var registry = await RegistryServer.StartAsync();
        var ctx = img.NewContext("FROM " + $"{registry.HostPort}/flags/pulled:latest" + "\nCOPY busybox /busybox\n");
        await registry.SeedImageAsync("flags/pulled", fileContent: "first\n");
        (await img.BuildAsync(ctx, "--no-console", "-o", "type=local,dest=first", ".")).EnsureSuccess("first build");
        Assert.Equal("first\n", File.ReadAllText(Path.Combine(ctx, "first/hello.txt")));

        await registry.SeedImageAsync("flags/pulled", fileContent: "second\n");
        (await img.BuildAsync(ctx, "--no-console", "-o", "type=local,dest=stored", ".")).EnsureSuccess("build without --pull");
        Assert.Equal("first\n", File.ReadAllText(Path.Combine(ctx, "stored/hello.txt")));
        (await img.BuildAsync(ctx, "--no-console", "--pull", "-o", "type=local,dest=pulled", ".")).EnsureSuccess("build --pull");
        Assert.Equal("second\n", File.ReadAllText(Path.Combine(ctx, "pulled/hello.txt")));

        // With the registry gone, only --pull needs it: the stored base is used without a round trip.
        await registry.DisposeAsync();
        var offline = await img.BuildAsync(ctx, "--no-console", "-o", "type=local,dest=offline", ".");
        offline.EnsureSuccess("build without --pull, registry down");
        Assert.Equal("second\n", File.ReadAllText(Path.Combine(ctx, "offline/hello.txt")));
        var pullOffline = await img.BuildAsync(ctx, "--no-console", "--pull", "-o", "type=local,dest=never", ".");
        Assert.Equal(1, pullOffline.ExitCode);
        Assert.Contains($"Error: failed to solve: {registry.HostPort}/flags/pulled:latest:", pullOffline.Stderr);
    }

    [Fact]
    public async Task StoredBaseFromATlsRegistryNeedsNeitherTheRegistryNorItsCa()
    {
        var registry = await RegistryServer.StartAsync(RegistryShape.Tls);
        await registry.SeedImageAsync("flags/tls-base", fileContent: "over tls\n");
        var ctx = img.NewContext($"FROM {registry.HostPort}/flags/tls-base:latest\nCOPY busybox /busybox\n");
        // The CA in a file the test user can read, trusted the way a user trusts a private registry's CA.
        var ca = Path.Combine(img.TempDir("img-build-e2e-ca"), "ca.crt");
        File.Copy(registry.CaCertificatePath!, ca);
        File.SetUnixFileMode(ca, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var trust = new Dictionary<string, string?> { ["SSL_CERT_FILE"] = ca };
        (await img.ImgAsync(ctx, null, ["build", "--no-console", "-o", "type=local,dest=first", "."], env: trust)).EnsureSuccess("first build over TLS");
        Assert.Equal("over tls\n", File.ReadAllText(Path.Combine(ctx, "first/hello.txt")));

        // Registry down and CA gone: a build without --pull makes no handshake, so it needs neither.
        await registry.DisposeAsync();
        File.Delete(ca);
        var cached = await img.ImgAsync(ctx, null, ["build", "--no-console", "-o", "type=local,dest=cached", "."], env: trust);
        cached.EnsureSuccess("build without --pull, TLS registry down, CA file gone");
        Assert.Equal("over tls\n", File.ReadAllText(Path.Combine(ctx, "cached/hello.txt")));
        var pull = await img.ImgAsync(ctx, null, ["build", "--no-console", "--pull", "-o", "type=local,dest=never", "."], env: trust);
        Assert.Equal(1, pull.ExitCode);
        Assert.Contains($"Error: failed to solve: {registry.HostPort}/flags/tls-base:latest:", pull.Stderr);
    }

    [Fact]
    public async Task SecretsFromTheEnvironmentInEveryForm()
    {
        var ctx = img.NewContext("""
            FROM base
            RUN --mount=type=secret,id=tok --mount=type=secret,id=NAMED_TOKEN --mount=type=secret,id=typed,env=TYPED \
                cat /run/secrets/tok /run/secrets/NAMED_TOKEN > /seen && echo "$TYPED" >> /seen
            """);
        var env = new Dictionary<string, string?> { ["TOKEN"] = "from-env-1\n", ["NAMED_TOKEN"] = "from-env-2\n", ["TYPED_VAR"] = "from-env-3" };
        var r = await img.ImgAsync(ctx, null, ["build", "--no-console", "--secret", "id=tok,env=TOKEN", "--secret", "id=NAMED_TOKEN",
            "--secret", "type=env,id=typed,src=TYPED_VAR", "-o", "type=local,dest=out", "."], env: env);
        r.EnsureSuccess("build with environment secrets");
        Assert.Equal("from-env-1\nfrom-env-2\nfrom-env-3\n", File.ReadAllText(Path.Combine(ctx, "out/seen")));
        Assert.False(File.Exists(Path.Combine(ctx, "out/run/secrets/tok")));

        var missing = await img.BuildAsync(ctx, "-t", "x", "--secret", "id=tok,env=IMG_TEST_UNSET_VARIABLE", ".");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("Error: could not parse secrets: secret tok: environment variable IMG_TEST_UNSET_VARIABLE is not set", missing.Stderr);
    }

    [Fact]
    public async Task NetworkAddHostShmSizeAndUlimitShapeEveryRun()
    {
        // /proc/net/dev lists the interfaces of the reader's network namespace: loopback alone under --network none.
        var ctx = img.NewContext("FROM base\nRUN grep -c : /proc/net/dev > /interfaces; grep -w ci-cache /etc/hosts > /hosts-line || true\n");
        (await img.BuildAsync(ctx, "--no-console", "--network", "none", "--add-host", "ci-cache:10.1.2.3", "-o", "type=local,dest=none", "."))
            .EnsureSuccess("--network none --add-host");
        Assert.Equal("1\n", File.ReadAllText(Path.Combine(ctx, "none/interfaces")));
        Assert.Equal("10.1.2.3\tci-cache\n", File.ReadAllText(Path.Combine(ctx, "none/hosts-line")));

        var host = await img.BuildAsync(ctx, "--no-console", "--network", "host", "-o", "type=local,dest=host", ".");
        host.EnsureSuccess("--network host");
        Assert.DoesNotContain("CACHED", host.Stderr); // another network is another step
        var hostInterfaces = File.ReadAllLines("/proc/net/dev").Count(l => l.Contains(':', StringComparison.Ordinal));
        Assert.Equal($"{hostInterfaces}\n", File.ReadAllText(Path.Combine(ctx, "host/interfaces")));
        Assert.Equal("", File.ReadAllText(Path.Combine(ctx, "host/hosts-line")));

        // --shm-size sizes /dev/shm, --ulimit sets the limits RUN sees (lowering needs no privilege).
        var limits = img.NewContext("FROM base\nRUN grep ' /dev/shm ' /proc/mounts > /shm && ulimit -Sn > /soft && ulimit -Hn > /hard\n");
        (await img.BuildAsync(limits, "--no-console", "--shm-size", "128m", "--ulimit", "nofile=512:1024", "-o", "type=local,dest=out", "."))
            .EnsureSuccess("--shm-size --ulimit");
        Assert.Contains("size=131072k", File.ReadAllText(Path.Combine(limits, "out/shm")));
        Assert.Equal("512\n", File.ReadAllText(Path.Combine(limits, "out/soft")));
        Assert.Equal("1024\n", File.ReadAllText(Path.Combine(limits, "out/hard")));
        var raise = await img.BuildAsync(limits, "--ulimit", "nofile=1024:99999999999", "-t", "x", ".");
        Assert.Equal(1, raise.ExitCode);
        Assert.Contains("an unprivileged build cannot raise it", raise.Stderr);

        var bridge = await img.BuildAsync(ctx, "--network", "bridge", "-t", "x", ".");
        Assert.Contains("Error: network mode \"bridge\" not supported: use default, host or none", bridge.Stderr);
        var badHost = await img.BuildAsync(ctx, "--add-host", "nocolon", "-t", "x", ".");
        Assert.Contains("Error: invalid argument \"nocolon\" for \"--add-host\" flag", badHost.Stderr);
    }

    [Fact]
    public async Task AnnotationsLandOnTheManifestTheIndexAndTheirDescriptors()
    {
        await using var registry = await RegistryServer.StartAsync();
        // No RUN: both platforms build without emulation.
        var ctx = img.NewContext("FROM scratch\nCOPY busybox /busybox\n");
        var single = $"{registry.HostPort}/flags/annotated:single";
        (await img.BuildAsync(ctx, "--no-console", "--push", "-t", single, "--annotation", "org.opencontainers.image.title=one",
            "--annotation", "manifest:org.example.url=https://example.com/x=y", ".")).EnsureSuccess("single-platform annotations");
        var (_, manifest) = await RegistryManifestAsync(registry, "flags/annotated", "single");
        Assert.Equal(MediaTypes.OciManifest, manifest.RootElement.GetProperty("mediaType").GetString());
        var a = manifest.RootElement.GetProperty("annotations");
        Assert.Equal("one", a.GetProperty("org.opencontainers.image.title").GetString());
        Assert.Equal("https://example.com/x=y", a.GetProperty("org.example.url").GetString());

        var multi = $"{registry.HostPort}/flags/annotated:multi";
        (await img.BuildAsync(ctx, "--no-console", "--push", "-t", multi, "--platform", "linux/amd64,linux/arm64",
            "--annotation", "index:org.example.level=index", "--annotation", "manifest,manifest-descriptor:org.example.level=manifest", "."))
            .EnsureSuccess("multi-platform annotations");
        var (_, index) = await RegistryManifestAsync(registry, "flags/annotated", "multi");
        Assert.Equal(MediaTypes.OciIndex, index.RootElement.GetProperty("mediaType").GetString());
        Assert.Equal("index", index.RootElement.GetProperty("annotations").GetProperty("org.example.level").GetString());
        foreach (var entry in index.RootElement.GetProperty("manifests").EnumerateArray())
        {
            Assert.Equal("manifest", entry.GetProperty("annotations").GetProperty("org.example.level").GetString());
            var (_, child) = await RegistryManifestAsync(registry, "flags/annotated", entry.GetProperty("digest").GetString()!);
            Assert.Equal("manifest", child.RootElement.GetProperty("annotations").GetProperty("org.example.level").GetString());
        }

        var bad = await img.BuildAsync(ctx, "--annotation", "layer:k=v", "-t", "x", ".");
        Assert.Contains("Error: invalid annotation layer:k=v: unknown type \"layer\"", bad.Stderr);
    }

    [Fact]
    public async Task CheckReportsWithoutBuildingAndABuildShowsTheSummary()
    {
        var ctx = img.NewContext("FROM base as Build\nCMD echo hi\n");
        var check = await img.BuildAsync(ctx, "--check", ".");
        Assert.Equal(1, check.ExitCode);
        Assert.StartsWith("Check complete, 3 warnings have been found!\n", check.Stdout);
        Assert.Contains("""

            WARNING: FromAsCasing - https://docs.docker.com/go/dockerfile/rule/from-as-casing/
            'as' and 'FROM' keywords' casing do not match
            Dockerfile:1
            --------------------
               1 | >>> FROM base as Build
               2 |     CMD echo hi
               3 |     
            --------------------

            """, check.Stdout);
        Assert.Contains("\nWARNING: StageNameCasing - https://docs.docker.com/go/dockerfile/rule/stage-name-casing/\nStage name 'Build' should be lowercase\n", check.Stdout);
        Assert.Contains("\nWARNING: JSONArgsRecommended - https://docs.docker.com/go/dockerfile/rule/json-args-recommended/\n", check.Stdout);
        Assert.DoesNotContain("#1 ", check.Stderr); // nothing was built
        Assert.Equal(check.Stdout, (await img.BuildAsync(ctx, "--call=check", ".")).Stdout);

        var clean = img.NewContext("FROM base AS build\nCMD [\"sh\"]\n");
        var ok = await img.BuildAsync(clean, "--check", ".");
        Assert.Equal(0, ok.ExitCode);
        Assert.Equal("Check complete, no warnings found.\n", ok.Stdout);

        // A normal build shows the same findings after its progress and still succeeds.
        var build = await img.BuildAsync(ctx, "--no-console", "-t", "flags-checked", ".");
        build.EnsureSuccess("build with warnings");
        Assert.Contains("\n 3 warnings found (use img build --check to expand):\n"
            + " - FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)\n"
            + " - StageNameCasing: Stage name 'Build' should be lowercase (line 1)\n"
            + " - JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals (line 2)\n", build.Stderr);
        var raw = await img.BuildAsync(ctx, "--progress=rawjson", "-t", "flags-checked", ".");
        var warnings = raw.EnsureSuccess("rawjson build").Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement).Single(e => e.TryGetProperty("warnings", out _)).GetProperty("warnings");
        Assert.Equal(3, warnings.GetArrayLength());
        Assert.Equal("StageNameCasing: Stage name 'Build' should be lowercase (line 1)", Encoding.UTF8.GetString(warnings[1].GetProperty("short").GetBytesFromBase64()));

        // check=error=true turns the findings into a failure before anything runs.
        ImgBuildFixture.Write(ctx, "Dockerfile", "# check=error=true;skip=StageNameCasing,FromAsCasing\nFROM base\nRUN touch /ran\nCMD echo hi\n");
        var strict = await img.BuildAsync(ctx, "--no-console", "-t", "flags-strict", ".");
        Assert.Equal(1, strict.ExitCode);
        Assert.Contains("Error: failed to solve: lint violation found for rules: JSONArgsRecommended", strict.Stderr);
        Assert.DoesNotContain("RUN touch /ran", strict.Stderr);
    }

    [Fact]
    public async Task NamedContextsFromADirectoryAStoredImageAndAnOciLayout()
    {
        var source = img.NewContext("FROM base\nRUN echo from-image > /from-image\n");
        (await img.BuildAsync(source, "--no-console", "-t", "flags-ctx-image:v1", ".")).EnsureSuccess("the stored image");
        (await img.BuildAsync(source, "--no-console", "-o", "type=oci,dest=layout.tar,name=flags-ctx-layout:v2", ".")).EnsureSuccess("the OCI layout");
        var layout = img.TempDir("img-build-e2e-layout");
        (await ProcessRunner.RunAsync("tar", ["-xf", Path.Combine(source, "layout.tar"), "-C", layout])).EnsureSuccess("untar the layout");
        var files = img.TempDir("img-build-e2e-files");
        ImgBuildFixture.Write(files, "dirfile", "from the directory\n");

        var ctx = img.NewContext("""
            FROM base
            COPY --from=files /dirfile /got/dirfile
            COPY --from=stored /from-image /got/from-image
            COPY --from=layout /from-image /got/from-layout
            RUN --mount=from=files,target=/mnt cat /mnt/dirfile > /got/mounted
            """);
        string[] contexts = ["--build-context", $"files={files}", "--build-context", "stored=docker-image://flags-ctx-image:v1",
            "--build-context", $"layout=oci-layout://{layout}:v2"];
        (await img.BuildAsync(ctx, ["--no-console", .. contexts, "-o", "type=local,dest=out", "."])).EnsureSuccess("build with named contexts");
        Assert.Equal("from the directory\n", File.ReadAllText(Path.Combine(ctx, "out/got/dirfile")));
        Assert.Equal("from-image\n", File.ReadAllText(Path.Combine(ctx, "out/got/from-image")));
        Assert.Equal("from-image\n", File.ReadAllText(Path.Combine(ctx, "out/got/from-layout")));
        Assert.Equal("from the directory\n", File.ReadAllText(Path.Combine(ctx, "out/got/mounted")));

        // FROM a directory: its files are the root; a change to them is a new build, not a cached one.
        ImgBuildFixture.Write(ctx, "Dockerfile", "FROM files\nCOPY --from=stored /from-image /\n");
        (await img.BuildAsync(ctx, ["--no-console", .. contexts, "-o", "type=local,dest=root", "."])).EnsureSuccess("FROM a directory");
        Assert.Equal(["dirfile", "from-image"], Directory.GetFileSystemEntries(Path.Combine(ctx, "root")).Select(Path.GetFileName).Order());
        ImgBuildFixture.Write(files, "dirfile", "changed\n");
        (await img.BuildAsync(ctx, ["--no-console", .. contexts, "-o", "type=local,dest=changed", "."])).EnsureSuccess("FROM a changed directory");
        Assert.Equal("changed\n", File.ReadAllText(Path.Combine(ctx, "changed/dirfile")));

        var missing = await img.BuildAsync(ctx, "--build-context", "files=/no/such/dir", "-t", "x", ".");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("Error: invalid build context files=/no/such/dir: directory /no/such/dir not found", missing.Stderr);
        var git = await img.BuildAsync(ctx, "--build-context", "src=https://github.com/x/y.git", "-t", "x", ".");
        Assert.Contains("not remote ones", git.Stderr);
    }

    [Fact]
    public async Task ProvenanceIsAnAttestationManifestBesideTheImageReadableBySkopeo()
    {
        await using var registry = await RegistryServer.StartAsync();
        var ctx = img.NewContext("FROM base\nRUN echo attested > /attested\n");
        var name = $"{registry.HostPort}/flags/attested:v1";
        var r = await img.BuildAsync(ctx, "--no-console", "--provenance", "mode=max", "--build-arg", "FLAVOUR=x", "--push", "-t", name, "--iidfile", "iid", ".");
        r.EnsureSuccess("build --provenance mode=max --push");
        Assert.Contains("[stage-0 2/2] RUN echo attested > /attested", r.Stderr); // one platform keeps its step names

        var (indexDigest, index) = await RegistryManifestAsync(registry, "flags/attested", "v1");
        Assert.Equal(indexDigest, File.ReadAllText(Path.Combine(ctx, "iid")));
        Assert.Equal(MediaTypes.OciIndex, index.RootElement.GetProperty("mediaType").GetString());
        var entries = index.RootElement.GetProperty("manifests").EnumerateArray().ToList();
        Assert.Equal(2, entries.Count);
        var image = entries.Single(e => e.GetProperty("platform").GetProperty("os").GetString() == "linux");
        var attestation = entries.Single(e => e.GetProperty("platform").GetProperty("os").GetString() == "unknown");
        Assert.Equal("unknown", attestation.GetProperty("platform").GetProperty("architecture").GetString());
        var annotations = attestation.GetProperty("annotations");
        Assert.Equal("attestation-manifest", annotations.GetProperty("vnd.docker.reference.type").GetString());
        Assert.Equal(image.GetProperty("digest").GetString(), annotations.GetProperty("vnd.docker.reference.digest").GetString());

        // skopeo reads the attestation manifest and its in-toto layer like any other.
        var raw = await ProcessRunner.RunAsync("skopeo", ["inspect", "--raw", "--tls-verify=false", $"docker://{registry.HostPort}/flags/attested@{attestation.GetProperty("digest").GetString()}"]);
        using var attestationManifest = JsonDocument.Parse(raw.EnsureSuccess("skopeo inspect --raw").Stdout);
        var layer = attestationManifest.RootElement.GetProperty("layers")[0];
        Assert.Equal("application/vnd.in-toto+json", layer.GetProperty("mediaType").GetString());
        Assert.Equal("https://slsa.dev/provenance/v0.2", layer.GetProperty("annotations").GetProperty("in-toto.io/predicate-type").GetString());

        var blobDir = img.TempDir("img-build-e2e-blob");
        (await ProcessRunner.RunAsync("skopeo", ["copy", "--src-tls-verify=false", $"docker://{registry.HostPort}/flags/attested@{attestation.GetProperty("digest").GetString()}", $"dir:{blobDir}"]))
            .EnsureSuccess("skopeo copy of the attestation");
        using var statement = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(blobDir, layer.GetProperty("digest").GetString()!["sha256:".Length..])));
        var st = statement.RootElement;
        Assert.Equal("https://in-toto.io/Statement/v0.1", st.GetProperty("_type").GetString());
        Assert.Equal("https://slsa.dev/provenance/v0.2", st.GetProperty("predicateType").GetString());
        var subject = st.GetProperty("subject")[0];
        Assert.Equal($"pkg:docker/{registry.HostPort}/flags/attested@v1?platform=linux%2Famd64", subject.GetProperty("name").GetString());
        Assert.Equal(image.GetProperty("digest").GetString(), "sha256:" + subject.GetProperty("digest").GetProperty("sha256").GetString());
        var predicate = st.GetProperty("predicate");
        Assert.Equal("https://mobyproject.org/buildkit@v1", predicate.GetProperty("buildType").GetString());
        Assert.Equal("pkg:docker/base@latest?platform=linux%2Famd64", predicate.GetProperty("materials")[0].GetProperty("uri").GetString());
        Assert.Equal("x", predicate.GetProperty("invocation").GetProperty("parameters").GetProperty("args").GetProperty("build-arg:FLAVOUR").GetString());
        Assert.Equal("Dockerfile", predicate.GetProperty("invocation").GetProperty("configSource").GetProperty("entryPoint").GetString());

        var local = await img.BuildAsync(ctx, "--provenance", "true", "-o", "type=local,dest=x", ".");
        Assert.Contains("Error: a provenance attestation is attached to an image", local.Stderr);
        var sbom = await img.BuildAsync(ctx, "--attest", "type=sbom", "-t", "x", ".");
        Assert.Contains("only type=provenance is supported", sbom.Stderr);
    }

    [Fact]
    public async Task HelpListsEveryBuildFlag()
    {
        var help = (await img.ImgAsync("/", null, ["build", "--help"])).EnsureSuccess("build --help").Stdout;
        foreach (var flag in new[]
        {
            "--add-host", "--annotation", "--attest", "--build-arg", "--build-context", "--call", "--check", "--cache-from", "--cache-to", "-f, --file", "--iidfile", "--label", "--load",
            "--metadata-file", "--network", "--no-cache", "--no-console", "-o, --output", "--platform", "--progress", "--provenance", "--pull", "--push",
            "-q, --quiet", "--sbom", "--secret", "--shm-size", "--ssh", "-t, --tag", "--target", "--ulimit",
        })
            Assert.Contains(flag, help);
    }
}
