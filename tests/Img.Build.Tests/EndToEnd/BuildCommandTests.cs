using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json;
using Img.TestSupport;

namespace Img.Build.Tests.EndToEnd;

[Collection("img build")]
public sealed class BuildCommandTests(ImgBuildFixture img)
{
    private static List<string> TarNames(Stream s)
    {
        var names = new List<string>();
        using var r = new TarReader(s);
        while (r.GetNextEntry() is { } e) names.Add(e.Name.TrimStart('.', '/'));
        return names;
    }

    [Fact]
    public async Task ConfigCarriesUserWorkdirEnvCmdEntrypointLabelsAndTags()
    {
        var ctx = img.NewContext("""
            FROM base
            ENV user=daemon volume=/data
            USER ${user}
            WORKDIR /srv/app
            VOLUME ${volume}
            EXPOSE 80 53/udp
            LABEL from.file=yes
            ENTRYPOINT ["echo"]
            CMD hello world
            STOPSIGNAL SIGTERM
            """);
        var r = await img.BuildAsync(ctx, "-t", "cfg", "-t", "cfg:v1", "-t", "example.com/cfg", "--label", "from.flag=1", "--no-console", ".");
        r.EnsureSuccess("build");
        Assert.Contains("Building docker.io/library/cfg:latest\nSetting up the rootfs... this may take a bit.\n", r.Stderr);
        Assert.Contains("Successfully built docker.io/library/cfg:latest", r.Stderr);
        Assert.Contains("[stage-0 2/2] WORKDIR /srv/app", r.Stderr);

        var inspect = await img.ImgAsync(ctx, null, ["inspect", "cfg:v1"]);
        inspect.EnsureSuccess("inspect");
        using var doc = JsonDocument.Parse(inspect.Stdout);
        var c = doc.RootElement.GetProperty("config");
        Assert.Equal("daemon", c.GetProperty("User").GetString());
        Assert.Equal("/srv/app", c.GetProperty("WorkingDir").GetString());
        Assert.Equal(["echo"], c.GetProperty("Entrypoint").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["/bin/sh", "-c", "hello world"], c.GetProperty("Cmd").EnumerateArray().Select(e => e.GetString()));
        Assert.Contains("user=daemon", c.GetProperty("Env").EnumerateArray().Select(e => e.GetString()));
        Assert.True(c.GetProperty("Volumes").TryGetProperty("/data", out _));
        Assert.True(c.GetProperty("ExposedPorts").TryGetProperty("53/udp", out _));
        Assert.Equal("yes", c.GetProperty("Labels").GetProperty("from.file").GetString());
        Assert.Equal("1", c.GetProperty("Labels").GetProperty("from.flag").GetString());
        Assert.Equal("SIGTERM", c.GetProperty("StopSignal").GetString());

        var ls = await img.ImgAsync(ctx, null, ["ls"]);
        Assert.Contains("docker.io/library/cfg:latest", ls.Stdout);
        Assert.Contains("docker.io/library/cfg:v1", ls.Stdout);
        Assert.Contains("example.com/cfg:latest", ls.Stdout);
    }

    [Fact]
    public async Task SecondBuildIsCachedAndNoCacheRunsAgain()
    {
        var ctx = img.NewContext("FROM base\nRUN date +%s%N > /stamp\nCOPY foo* /foos/\n", ("foo1", "1"), ("unrelated", "u"));
        (await img.BuildAsync(ctx, "-t", "cache", "--no-console", ".")).EnsureSuccess("first build");
        var second = await img.BuildAsync(ctx, "-t", "cache", "--no-console", ".");
        second.EnsureSuccess("second build");
        Assert.Matches(@"RUN date \+%s%N > /stamp\n#\d+ CACHED", second.Stderr);

        // An unrelated context change leaves COPY foo* cached; a change to foo1 does not.
        ImgBuildFixture.Write(ctx, "unrelated", "changed");
        var third = await img.BuildAsync(ctx, "-t", "cache", "--no-console", ".");
        Assert.Equal(2, CountOf(third.Stderr, " CACHED"));
        ImgBuildFixture.Write(ctx, "foo1", "changed");
        var fourth = await img.BuildAsync(ctx, "-t", "cache", "--no-console", ".");
        Assert.Equal(1, CountOf(fourth.Stderr, " CACHED"));

        var nocache = await img.BuildAsync(ctx, "-t", "cache", "--no-console", "--no-cache", ".");
        nocache.EnsureSuccess("--no-cache build");
        Assert.DoesNotContain("CACHED", nocache.Stderr);
    }

    private static int CountOf(string s, string what) => s.Split(what).Length - 1;

    [Fact]
    public async Task MultiStageCopyFromAndParallelStages()
    {
        // Each stage notes when its RUN started and ended (host uptime, not namespaced); parallel
        // stages overlap in time. No wall-clock bar here: speed is measured by bench/.
        var ctx = img.NewContext("""
            FROM base AS one
            RUN cut -d' ' -f1 /proc/uptime > /one.start && sleep 3 && echo 1 > /one && cut -d' ' -f1 /proc/uptime > /one.end
            FROM base AS two
            RUN cut -d' ' -f1 /proc/uptime > /two.start && sleep 3 && echo 2 > /two && cut -d' ' -f1 /proc/uptime > /two.end
            FROM base AS three
            RUN cut -d' ' -f1 /proc/uptime > /three.start && sleep 3 && echo 3 > /three && cut -d' ' -f1 /proc/uptime > /three.end
            FROM base
            COPY --from=one /one /one.start /one.end /out/
            COPY --from=two /two /two.start /two.end /out/
            COPY --from=three /three /three.start /three.end /out/
            """);
        var r = await img.BuildAsync(ctx, "--no-console", "-o", "type=local,dest=out", ".");
        r.EnsureSuccess("build");
        Assert.Equal("1\n", File.ReadAllText(Path.Combine(ctx, "out/out/one")));
        Assert.Equal("3\n", File.ReadAllText(Path.Combine(ctx, "out/out/three")));
        Assert.Contains("Successfully built image", r.Stderr);
        double Read(string name) => double.Parse(File.ReadAllText(Path.Combine(ctx, "out/out", name)).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        var starts = new[] { "one", "two", "three" }.Select(n => Read(n + ".start")).ToArray();
        var ends = new[] { "one", "two", "three" }.Select(n => Read(n + ".end")).ToArray();
        Assert.True(starts.Max() < ends.Min(), $"stages ran one after another: starts {string.Join(", ", starts)}, ends {string.Join(", ", ends)}");
    }

    [Fact]
    public async Task FailingRunExitsOneWithTheCommandAndCode()
    {
        var ctx = img.NewContext("FROM base\nRUN echo about to fail && exit 3\n");
        var r = await img.BuildAsync(ctx, "-t", "failing", "--no-console", ".");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("about to fail", r.Stderr);
        Assert.Contains("Error: failed to solve: process \"/bin/sh -c echo about to fail && exit 3\" did not complete successfully: exit code: 3", r.Stderr);
        Assert.DoesNotContain("Successfully built", r.Stderr);
    }

    [Fact]
    public async Task UnusedBuildArgsGetDockersWarningBeforeTheClosingLine()
    {
        var ctx = img.NewContext("FROM base\nARG USED\nRUN echo $USED > /used\n");
        var r = await img.BuildAsync(ctx, "-t", "unused-args", "--no-console", "--build-arg", "USED=1", "--build-arg", "ZED=2",
            "--build-arg", "ALPHA=3", "--build-arg", "http_proxy=http://127.0.0.1:9", "--build-arg", "SOURCE_DATE_EPOCH=0", ".");
        r.EnsureSuccess("build");
        const string Warning = "[Warning] One or more build-args [ALPHA ZED] were not consumed\n";
        Assert.Contains(Warning, r.Stderr);
        Assert.EndsWith(Warning + "Successfully built docker.io/library/unused-args:latest\n", r.Stderr);

        var consumed = await img.BuildAsync(ctx, "-t", "unused-args", "--no-console", "--build-arg", "USED=1", ".");
        consumed.EnsureSuccess("build with every build-arg consumed");
        Assert.DoesNotContain("[Warning]", consumed.Stderr);

        // -q prints the image ID alone, as docker -q does.
        var quiet = await img.BuildAsync(ctx, "-t", "unused-args", "-q", "--build-arg", "ZED=2", ".");
        quiet.EnsureSuccess("quiet build");
        Assert.DoesNotContain("[Warning]", quiet.Stderr + quiet.Stdout);
    }

    [Fact]
    public async Task RunDeletesAndChownsShowUpInTheLayer()
    {
        var ctx = img.NewContext("FROM base\nRUN rm /base-file && mkdir /owned && chown 2:2 /owned && echo n > /owned/new\n");
        var r = await img.BuildAsync(ctx, "--no-console", "-o", "type=docker,dest=img.tar,name=whiteout", ".");
        r.EnsureSuccess("build");
        using var archive = File.OpenRead(Path.Combine(ctx, "img.tar"));
        var files = new Dictionary<string, byte[]>();
        using (var tr = new TarReader(archive))
            while (tr.GetNextEntry() is { } e)
                if (e.DataStream is not null) { using var ms = new MemoryStream(); e.DataStream.CopyTo(ms); files[e.Name] = ms.ToArray(); }
        using var manifest = JsonDocument.Parse(files["manifest.json"]);
        var entry = manifest.RootElement[0];
        Assert.Equal("docker.io/library/whiteout:latest".Replace("docker.io/library/", ""), entry.GetProperty("RepoTags")[0].GetString());
        var last = entry.GetProperty("Layers").EnumerateArray().Last().GetString()!;
        using var layer = new GZipStream(new MemoryStream(files[last]), CompressionMode.Decompress);
        var entries = new Dictionary<string, TarEntry>();
        using (var lr = new TarReader(layer))
            while (lr.GetNextEntry(copyData: false) is { } e) entries[e.Name.TrimEnd('/')] = e;
        Assert.Contains(".wh.base-file", entries.Keys);
        Assert.Equal(2, entries["owned"].Uid);
        Assert.Equal(2, entries["owned"].Gid);
        Assert.True(entries.ContainsKey("owned/new"));
        Assert.DoesNotContain(entries.Keys, k => k.StartsWith("bin", StringComparison.Ordinal));
    }

    [Fact]
    public async Task OutputsTarOciAndTarToStdout()
    {
        var ctx = img.NewContext("FROM base\nRUN echo built > /built\n");
        (await img.BuildAsync(ctx, "--no-console", "-o", "type=tar,dest=rootfs.tar", ".")).EnsureSuccess("tar");
        using (var f = File.OpenRead(Path.Combine(ctx, "rootfs.tar")))
            Assert.Contains("built", TarNames(f));
        (await img.BuildAsync(ctx, "--no-console", "-o", "type=oci,dest=oci.tar", ".")).EnsureSuccess("oci");
        using (var f = File.OpenRead(Path.Combine(ctx, "oci.tar")))
        {
            var names = TarNames(f);
            Assert.Contains("index.json", names);
            Assert.Contains("oci-layout", names);
        }
        using var stdout = new MemoryStream();
        var r = await img.ImgAsync(ctx, null, ["build", "--no-console", "-o", "type=tar", "."], stdout);
        r.EnsureSuccess("tar to stdout");
        stdout.Position = 0;
        Assert.Contains("bin/busybox", TarNames(stdout));
        Assert.Contains("Successfully built image", r.Stderr);
    }

    [Fact]
    public async Task OutputImageNamesAndRejectsDest()
    {
        var ctx = img.NewContext("FROM base\n");
        var ok = await img.BuildAsync(ctx, "--no-console", "-o", "type=image,name=named-output", ".");
        ok.EnsureSuccess("image output");
        Assert.Contains("Building docker.io/library/named-output:latest", ok.Stderr);
        Assert.Contains("docker.io/library/named-output:latest", (await img.ImgAsync(ctx, null, ["ls"])).Stdout);

        var bad = await img.BuildAsync(ctx, "-o", "type=image,dest=x", ".");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("Error: invalid output option: output: output x is not supported by image exporter", bad.Stderr);
    }

    [Fact]
    public async Task SecretsAreMountedAndNotKept()
    {
        var ctx = img.NewContext("FROM base\nRUN --mount=type=secret,id=s1 --mount=type=secret,id=s2,target=/s2 cat /run/secrets/s1 /s2 > /seen\n", ("s1.txt", "one\n"), ("s2.txt", "two\n"));
        var r = await img.BuildAsync(ctx, "--no-console", "--secret", $"id=s1,src={Path.Combine(ctx, "s1.txt")}", "--secret", $"id=s2,src={Path.Combine(ctx, "s2.txt")}",
            "-o", "type=local,dest=out", ".");
        r.EnsureSuccess("build with secrets");
        Assert.Equal("one\ntwo\n", File.ReadAllText(Path.Combine(ctx, "out/seen")));
        Assert.False(File.Exists(Path.Combine(ctx, "out/run/secrets/s1")));
    }

    [Fact]
    public async Task StdinDockerfileWithContextFirst()
    {
        var ctx = img.NewContext("unused");
        var r = await img.ImgAsync(ctx, "FROM base\nRUN echo from-stdin > /s\n", ["build", "-", "-t", "stdin-ctx", "--no-console"]);
        r.EnsureSuccess("build -");
        Assert.Contains("Successfully built docker.io/library/stdin-ctx:latest", r.Stderr);
    }

    [Fact]
    public async Task DockerfileOutsideTheContext()
    {
        var ctx = img.NewContext("unused", ("sub/file.txt", "in sub"));
        var elsewhere = img.TempDir("img-build-e2e-df");
        File.WriteAllText(Path.Combine(elsewhere, "Dockerfile.custom"), "FROM base\nCOPY file.txt /file.txt\n");
        var r = await img.BuildAsync(ctx, "--no-console", "-f", Path.Combine(elsewhere, "Dockerfile.custom"), "-o", "type=local,dest=" + Path.Combine(ctx, "out"), "sub");
        r.EnsureSuccess("build -f outside");
        Assert.Equal("in sub", File.ReadAllText(Path.Combine(ctx, "out/file.txt")));
    }

    [Fact]
    public async Task ArgumentErrorsAreTheOriginals()
    {
        var ctx = img.NewContext("FROM base\n");
        Assert.Contains("Error: must pass a path to build", (await img.BuildAsync(ctx)).Stderr);
        Assert.Contains("Error: please specify an image tag with `-t` or an output spec with `-o`", (await img.BuildAsync(ctx, ".")).Stderr);
        var bad = await img.BuildAsync(ctx, "-t", "x", "--build-arg", "NOVALUE", ".");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("Error: invalid build-arg value NOVALUE", bad.Stderr);
        Assert.Contains("Error: could not parse secrets: unexpected key 'x' in 'x=y'", (await img.BuildAsync(ctx, "-t", "x", "--secret", "id=a,x=y", ".")).Stderr);
    }

    [Fact]
    public async Task BuildArgsTargetAndChown()
    {
        var ctx = img.NewContext("""
            FROM base AS skipped
            RUN exit 1
            FROM base AS wanted
            ARG GREETING=hi
            COPY --chown=daemon:daemon --chmod=0600 greeting.txt /home/
            RUN echo $GREETING > /greeting && stat -c '%u:%g %a' /home/greeting.txt > /owner
            """, ("greeting.txt", "g"));
        var r = await img.BuildAsync(ctx, "--no-console", "--target", "wanted", "--build-arg", "GREETING=hello", "-o", "type=local,dest=out", ".");
        r.EnsureSuccess("build --target");
        Assert.Equal("hello\n", File.ReadAllText(Path.Combine(ctx, "out/greeting")));
        Assert.Equal("2:2 600\n", File.ReadAllText(Path.Combine(ctx, "out/owner")));
    }

    [Fact]
    public async Task AddExtractsLocalTarsAndCopyHandlesDirsAndRelativeDests()
    {
        var ctx = img.NewContext("""
            FROM base
            WORKDIR /w
            ADD archive.tar.gz /extracted/
            COPY dir/ rel/
            COPY dir inner
            COPY <<EOT /heredoc.txt
            inline body
            EOT
            """, ("dir/a.txt", "a"), ("dir/sub/b.txt", "b"));
        var tarDir = img.TempDir("img-build-e2e-tar");
        ImgBuildFixture.Write(tarDir, "packed/x.txt", "x");
        (await ProcessRunner.RunAsync("tar", ["-czf", Path.Combine(ctx, "archive.tar.gz"), "-C", tarDir, "packed"])).EnsureSuccess("tar");
        var r = await img.BuildAsync(ctx, "--no-console", "-o", "type=local,dest=out", ".");
        r.EnsureSuccess("build");
        var root = Path.Combine(ctx, "out");
        Assert.Equal("x", File.ReadAllText(Path.Combine(root, "extracted/packed/x.txt")));
        Assert.Equal("a", File.ReadAllText(Path.Combine(root, "w/rel/a.txt")));
        Assert.Equal("b", File.ReadAllText(Path.Combine(root, "w/inner/sub/b.txt")));
        Assert.False(Directory.Exists(Path.Combine(root, "w/inner/dir")));
        Assert.Equal("inline body\n", File.ReadAllText(Path.Combine(root, "heredoc.txt")));
    }
}
