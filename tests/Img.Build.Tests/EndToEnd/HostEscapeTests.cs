using System.Diagnostics;
using System.Formats.Tar;
using System.Text;
using Img.TestSupport;

namespace Img.Build.Tests.EndToEnd;

/// <summary>
/// A hostile context, Dockerfile, archive or image, run as the unprivileged user: each attack aims at a
/// <see cref="Canary"/> outside the build — a directory the user owns — that must stay untouched, and whose secret
/// must never be read into the build. An attack img refuses must be refused with one clear error, in time.
/// (Snapshot removal attacks, which can wedge a store, are in <see cref="SnapshotRemovalEscapeTests"/>.)
/// </summary>
[Collection("img build")]
public sealed class HostEscapeTests(ImgBuildFixture img)
{
    private static readonly TimeSpan AttackLimit = TimeSpan.FromMinutes(2);

    // ---- archives: ADD of a local tar (attacks 1, 7, 9) ----

    public static TheoryData<string, bool> ArchiveAttacks()
    {
        var data = new TheoryData<string, bool>();
        foreach (var attack in new[]
                 {
                     "symlink-then-write", "symlink-then-dir", "symlink-then-hardlink", "dotdot", "absolute",
                     "hardlink-absolute", "hardlink-dotdot",
                 })
        {
            data.Add(attack, false);
            data.Add(attack, true);
        }
        return data;
    }

    /// <summary>
    /// An archive's entries land inside the destination, and nothing after extraction (the --chown pass, the merge)
    /// follows a link the archive planted: a tar holding <c>esc -&gt; canary</c> then <c>esc/file</c>, <c>..</c> and
    /// absolute names, hard links to a path outside.
    /// </summary>
    [Theory]
    [MemberData(nameof(ArchiveAttacks))]
    public async Task AddOfAnArchiveStaysInsideTheDestination(string attack, bool chown)
    {
        using var canary = Canary.Create("canary-add");
        var ctx = img.NewContext($"FROM base\nADD {(chown ? "--chown=1234:1234 " : "")}evil.tar /x/\nRUN true\n");
        WriteTar(Path.Combine(ctx, "evil.tar"), HostileEntries(attack, canary));
        var r = await img.BuildAsync(ctx, ["--no-console", "-o", "type=local,dest=out", "."]);
        canary.AssertUntouched($"ADD of a tar ({attack}{(chown ? ", --chown" : "")})");
        AssertContainedOrRefused(r);
        canary.AssertSecretNotIn(Path.Combine(ctx, "out"));
    }

    /// <summary>
    /// Directory entries that make the canary's path exist inside the destination too: a link to it then resolves
    /// inside, extraction succeeds, and what comes after (the --chown pass, the merge, snapshot removal) meets a link
    /// whose target is also a real path on the host.
    /// </summary>
    private static IEnumerable<TarEntry> Mirror(Canary canary)
    {
        var path = "";
        foreach (var part in Path.Combine(canary.Root, "locked").Split('/', StringSplitOptions.RemoveEmptyEntries))
            yield return TarDir(path += part + "/", 0b111_101_101);
    }

    private static IEnumerable<TarEntry> HostileEntries(string attack, Canary canary)
    {
        string Up(string absolute) => string.Concat(Enumerable.Repeat("../", 12)) + absolute.TrimStart('/');
        switch (attack)
        {
            case "symlink-then-write":
                foreach (var dir in Mirror(canary)) yield return dir;
                yield return TarSymlink("esc", canary.Root);
                yield return TarFile("esc/file", "pwned");
                yield return TarFile("esc/canary.txt", "pwned");
                yield return TarFile("esc/locked/secret.txt", "pwned");
                break;
            case "symlink-then-dir":
                foreach (var dir in Mirror(canary)) yield return dir;
                // A directory entry through the link would chmod and chown the canary's directories.
                yield return TarSymlink("esc", canary.Root);
                yield return TarDir("esc/", 0b111_111_111);
                yield return TarDir("esc/locked/", 0b111_111_111);
                yield return TarDir("esc/new/", 0b111_111_111);
                break;
            case "symlink-then-hardlink":
                foreach (var dir in Mirror(canary)) yield return dir;
                yield return TarSymlink("esc", canary.Root);
                yield return TarHardLink("h", "esc/canary.txt");
                yield return TarFile("h", "pwned");
                break;
            case "dotdot":
                yield return TarFile(Up(canary.File), "pwned");
                yield return TarFile(Up(Path.Combine(canary.Root, "new")), "pwned");
                break;
            case "absolute":
                yield return TarFile(canary.File, "pwned");
                yield return TarFile(Path.Combine(canary.Root, "new"), "pwned");
                break;
            case "hardlink-absolute":
                yield return TarHardLink("h", canary.File);
                yield return TarFile("h", "pwned");
                break;
            case "hardlink-dotdot":
                yield return TarHardLink("h", Up(canary.File));
                yield return TarHardLink("s", Up(Path.Combine(canary.Root, "locked/secret.txt")));
                break;
            default:
                throw new ArgumentException(attack);
        }
    }

    /// <summary>
    /// A setuid file owned by an id outside the user's subordinate range (img cannot create it with that owner):
    /// the layer keeps the owner or the build fails naming the entry — never setuid root, never setuid on an owner
    /// the archive did not say.
    /// </summary>
    [Theory]
    [InlineData(70000u)]
    [InlineData(4294967294u)]
    public async Task AddOfASetuidEntryWithAnUnmappedOwnerNeverBecomesSetuidRoot(uint owner)
    {
        using var canary = Canary.Create("canary-suid");
        var ctx = img.NewContext("FROM base\nADD evil.tar /x/\n");
        var src = img.TempDir("img-escape-suid");
        File.WriteAllText(Path.Combine(src, "suid"), "#!/bin/sh\n");
        // GNU tar writes ids past 2^21 in a pax header; System.Formats.Tar cannot hold 4294967294.
        (await ProcessRunner.RunAsync("tar", ["--format=posix", "--numeric-owner", $"--owner={owner}", $"--group={owner}", "--mode=4755",
            "-C", src, "-cf", Path.Combine(ctx, "evil.tar"), "suid"])).EnsureSuccess("tar");
        var r = await img.BuildAsync(ctx, ["--no-console", "-o", "type=oci,dest=image.tar", "."]);
        canary.AssertUntouched("ADD of a setuid entry");
        if (r.ExitCode != 0)
        {
            AssertClearError(r);
            Assert.Contains("suid", r.Stderr);
        }
        else
        {
            var entry = (await LayerListingAsync(Path.Combine(ctx, "image.tar"))).Single(e => e.Name == "x/suid");
            Assert.False(entry.Mode[3] is 's' or 'S' && entry.Owner == "0/0", $"the layer holds {entry} as setuid root");
            Assert.True(entry.Owner == $"{owner}/{owner}" || entry.Mode[3] is not ('s' or 'S'),
                $"the layer keeps setuid on {entry}, whose owner is not the archive's {owner}/{owner}");
        }
    }

    /// <summary>Device nodes img cannot create unprivileged are kept in the layer, or named in a warning or an error: never dropped silently.</summary>
    [Fact]
    public async Task AddOfADeviceNodeIsNotDroppedSilently()
    {
        using var canary = Canary.Create("canary-dev");
        var ctx = img.NewContext("FROM base\nADD evil.tar /x/\n");
        WriteTar(Path.Combine(ctx, "evil.tar"),
        [
            new PaxTarEntry(TarEntryType.CharacterDevice, "chardev-zero") { DeviceMajor = 1, DeviceMinor = 5, Mode = (UnixFileMode)0b110_110_110 },
            new PaxTarEntry(TarEntryType.BlockDevice, "blockdev-loop") { DeviceMajor = 7, DeviceMinor = 0, Mode = (UnixFileMode)0b110_110_000 },
            TarFile("plain", "p"),
        ]);
        var r = await img.BuildAsync(ctx, ["--no-console", "-o", "type=oci,dest=image.tar", "."]);
        canary.AssertUntouched("ADD of device nodes");
        if (r.ExitCode != 0)
        {
            AssertClearError(r);
            Assert.True(r.Stderr.Contains("chardev-zero") || r.Stderr.Contains("blockdev-loop"), "the error names no device entry:\n" + r.Stderr);
        }
        else
        {
            var layer = await LayerListingAsync(Path.Combine(ctx, "image.tar"));
            foreach (var (name, type) in new[] { ("chardev-zero", 'c'), ("blockdev-loop", 'b') })
                Assert.True(layer.Any(e => e.Name == "x/" + name && e.Mode[0] == type) || r.Combined.Contains(name),
                    $"x/{name} is neither in the layer nor named in img's output:\n{r.Combined}");
        }
    }

    // ---- the context: links, special files, names (attacks 4, 5, 8, 9) ----

    public static TheoryData<string> ContextLinkAttacks() =>
    [
        "COPY link/canary.txt /x", "COPY link/ /x/", "COPY link/* /x/", "ADD link/canary.txt /x", "COPY up/ /u/",
        "COPY rel/canary.txt /x", "COPY rel/locked/ /x/",
        "COPY --from=linker /link/canary.txt /x", "COPY --from=linker /link/ /x/", "COPY --from=linker /rel/locked/secret.txt /x",
    ];

    /// <summary>
    /// A symlink in the context is resolved inside the context, as BuildKit does: <c>link -&gt; /abs/canary</c>,
    /// <c>rel -&gt; ../canary</c> and <c>up -&gt; ..</c> never bring the canary's files into the image; nor do such
    /// links in a stage read by <c>COPY --from</c>, which resolve inside that stage's root.
    /// </summary>
    [Theory]
    [MemberData(nameof(ContextLinkAttacks))]
    public async Task CopyThroughALinkStaysInsideItsSource(string instruction)
    {
        using var canary = Canary.Create("canary-ctx");
        var ctx = img.NewContext($"""
            FROM base AS linker
            RUN ln -s {canary.Root} /link && ln -s ../../../../../../..{canary.Root} /rel
            FROM base
            {instruction}
            """);
        PlantContextLinks(ctx, canary);
        var r = await img.BuildAsync(ctx, ["--no-console", "-o", "type=local,dest=out", "."]);
        canary.AssertUntouched(instruction);
        AssertContainedOrRefused(r);
        canary.AssertSecretNotIn(Path.Combine(ctx, "out"));
    }

    public static TheoryData<string> BindSourceAttacks() =>
    [
        "RUN --mount=type=bind,source=link,target=/m",
        "RUN --mount=type=bind,source=rel,target=/m",
        "RUN --mount=type=bind,source=link/locked,target=/m",
        "RUN --mount=type=bind,from=linker,source=/link,target=/m",
        "RUN --mount=type=bind,from=linker,source=/link/locked,target=/m",
        "RUN --mount=type=bind,from=linker,source=/rel,target=/m",
    ];

    /// <summary>
    /// <c>RUN --mount=type=bind,source=</c> a link to the user's files: the source resolves inside the context (or
    /// the stage's root), so the step never reads the canary; the build fails clearly or sees a path inside.
    /// </summary>
    [Theory]
    [MemberData(nameof(BindSourceAttacks))]
    public async Task BindMountSourceResolvesInsideItsRoot(string mount)
    {
        using var canary = Canary.Create("canary-bind");
        var ctx = img.NewContext($"""
            FROM base AS linker
            RUN ln -s {canary.Root} /link && ln -s ../../../../../../..{canary.Root} /rel
            FROM base
            {mount} cat /m/canary.txt /m/secret.txt /m/locked/secret.txt > /leak 2>&1; ls -la /m > /listing 2>&1; true
            """);
        PlantContextLinks(ctx, canary);
        var r = await img.BuildAsync(ctx, ["--no-console", "-o", "type=local,dest=out", "."]);
        canary.AssertUntouched(mount);
        AssertContainedOrRefused(r);
        canary.AssertSecretNotIn(Path.Combine(ctx, "out"));
    }

    public static TheoryData<string, string> SpecialInputs() => new()
    {
        { "Dockerfile", "/dev/zero" }, { "Dockerfile", "fifo" }, { ".dockerignore", "/dev/zero" }, { ".dockerignore", "fifo" },
        { "Dockerfile", "/dev/urandom" },
    };

    /// <summary>
    /// A Dockerfile or .dockerignore that is a link to an endless device or a FIFO: one clear error within seconds,
    /// exit 1 — never read until memory runs out, never a hang.
    /// </summary>
    [Theory]
    [MemberData(nameof(SpecialInputs))]
    public async Task SpecialDockerfileOrIgnoreFileFailsFast(string name, string kind)
    {
        using var canary = Canary.Create("canary-special");
        var ctx = img.NewContext("FROM base\nRUN true\n");
        var path = Path.Combine(ctx, name);
        File.Delete(path);
        if (kind == "fifo") (await ProcessRunner.RunAsync("mkfifo", [path])).EnsureSuccess("mkfifo");
        else File.CreateSymbolicLink(path, kind);
        if (TestUser.RunningAsRoot) (await ProcessRunner.RunAsync("chown", ["-h", $"{TestUser.Name}:{TestUser.Name}", path])).EnsureSuccess("chown");
        var clock = Stopwatch.StartNew();
        ProcessResult r;
        try
        {
            r = await img.ImgAsync(ctx, null, ["build", "--no-console", "-t", "escape/special", "."], timeout: TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            Assert.Fail($"img build with a {name} that is {kind} did not finish in 60 s");
            throw;
        }
        clock.Stop();
        canary.AssertUntouched($"a {name} that is {kind}");
        Assert.Equal(1, r.ExitCode);
        AssertClearError(r);
        Assert.Contains(name, r.Stderr);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"img took {clock.Elapsed} to refuse a {name} that is {kind}");
    }

    /// <summary>A Dockerfile and .dockerignore that are links to files inside the context still work.</summary>
    [Fact]
    public async Task DockerfileLinkedInsideTheContextStillWorks()
    {
        var ctx = img.NewContext("");
        ImgBuildFixture.Write(ctx, "docker/real.Dockerfile", "FROM base\nCOPY . /c/\n");
        ImgBuildFixture.Write(ctx, "docker/real.ignore", "hidden.txt\nout\n");
        ImgBuildFixture.Write(ctx, "hidden.txt", "h");
        ImgBuildFixture.Write(ctx, "shown.txt", "s");
        File.Delete(Path.Combine(ctx, "Dockerfile"));
        File.CreateSymbolicLink(Path.Combine(ctx, "Dockerfile"), "docker/real.Dockerfile");
        File.CreateSymbolicLink(Path.Combine(ctx, ".dockerignore"), "docker/real.ignore");
        var r = await img.BuildAsync(ctx, ["--no-console", "-o", "type=local,dest=out", "."]);
        r.EnsureSuccess("build with a linked Dockerfile and .dockerignore");
        Assert.Equal("s", File.ReadAllText(Path.Combine(ctx, "out/c/shown.txt")));
        Assert.False(File.Exists(Path.Combine(ctx, "out/c/hidden.txt")), "the linked .dockerignore was not applied");
    }

    /// <summary>A context given as a link to a directory is that directory; its links still resolve inside it.</summary>
    [Fact]
    public async Task ContextRootThatIsALinkIsItsTarget()
    {
        using var canary = Canary.Create("canary-ctxroot");
        var ctx = img.NewContext("FROM base\nCOPY file.txt /f\nCOPY up/ /u/\n", ("file.txt", "in the context"));
        PlantContextLinks(ctx, canary);
        var holder = img.TempDir("img-escape-ctxlink");
        var link = Path.Combine(holder, "ctx");
        File.CreateSymbolicLink(link, ctx);
        var outDir = Path.Combine(holder, "out");
        var r = await img.BuildAsync(holder, ["--no-console", "-o", $"type=local,dest={outDir}", "ctx"]);
        canary.AssertUntouched("a build whose context is a link");
        r.EnsureSuccess("build of a context given as a link");
        Assert.Equal("in the context", File.ReadAllText(Path.Combine(outDir, "f")));
        canary.AssertSecretNotIn(outDir);
    }

    public static TheoryData<string> InvalidNameCopies() => ["COPY . /c/", "COPY bad-* /c/", "ADD . /c/"];

    /// <summary>
    /// A context file whose name is not UTF-8 is carried byte for byte, or refused with an error naming it — never
    /// "no such file".
    /// </summary>
    [Theory]
    [MemberData(nameof(InvalidNameCopies))]
    public async Task ContextNameInInvalidUtf8IsCarriedOrNamed(string copy)
    {
        var ctx = img.NewContext($"FROM base\n{copy}\nRUN test -f \"$(printf '/c/bad-\\377\\376.txt')\"\n");
        // .NET strings cannot hold the name: the shell makes it from bytes.
        (await ProcessRunner.RunAsync("bash", ["-c", "printf x > \"$1/$(printf 'bad-\\377\\376.txt')\"", "mk", ctx])).EnsureSuccess("create the file");
        var r = await img.BuildAsync(ctx, ["--no-console", "-t", "escape/utf8", "."]);
        // Success means the RUN found the name byte for byte; a refusal must name the file.
        if (r.ExitCode != 0)
        {
            AssertClearError(r);
            Assert.DoesNotContain("no such file", r.Stderr, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("did not complete successfully", r.Stderr);
            Assert.Contains("bad-", r.Stderr);
        }
    }

    // ---- links a RUN plants where a later step writes (attacks 3, 9) ----

    public static TheoryData<string> LaterWritesThroughPlantedLinks() =>
    [
        "COPY file.txt /dst/",
        "COPY file.txt /dst/canary.txt",
        "COPY --chown=1234:1234 --chmod=777 file.txt /dst/locked/secret.txt",
        "COPY --chown=1234:1234 dir/ /dst/",
        "COPY file.txt /dstfile",
        "ADD plain.tar /dst/",
        "ADD --chown=1234:1234 plain.tar /dst/",
        "WORKDIR /dst/newdir",
        "RUN --mount=type=tmpfs,target=/dst/newdir true",
        "RUN --mount=type=bind,source=dir,target=/dst/locked true",
        "RUN --mount=type=cache,target=/dst/cachedir true",
    ];

    /// <summary>
    /// A RUN leaves <c>/dst -&gt; canary</c> (and <c>/dstfile -&gt; canary.txt</c>); a later COPY, ADD, WORKDIR or
    /// mount at that path acts inside the image's root (where the link's target is an ordinary path), never on the host.
    /// </summary>
    [Theory]
    [MemberData(nameof(LaterWritesThroughPlantedLinks))]
    public async Task LaterStepsDoNotWriteThroughAPlantedLink(string instruction)
    {
        using var canary = Canary.Create("canary-planted");
        var ctx = img.NewContext($"FROM base\nRUN ln -s {canary.Root} /dst && ln -s {canary.File} /dstfile\n{instruction}\n",
            ("file.txt", "pwned"), ("dir/canary.txt", "pwned"), ("dir/locked/secret.txt", "pwned"));
        WriteTar(Path.Combine(ctx, "plain.tar"), [TarFile("canary.txt", "pwned"), TarDir("locked/", 0b111_111_111), TarFile("locked/secret.txt", "pwned")]);
        var r = await img.BuildAsync(ctx, ["--no-console", "-o", "type=local,dest=out", "."]);
        canary.AssertUntouched(instruction);
        AssertContainedOrRefused(r);
        canary.AssertSecretNotIn(Path.Combine(ctx, "out"));
    }

    public static TheoryData<string, string, string> MountStubAttacks() => new()
    {
        // mount, what the step does to the stub's parent, the empty entry the canary holds where the stub's name points
        { "--mount=type=secret,id=s,target=/run/secrets/x", "mv /run/secrets /run/secrets.moved && ln -s {0} /run/secrets", "x" },
        { "--mount=type=secret,id=s,target=/stub/dir/x", "mv /stub /stub.moved && ln -s {0} /stub", "dir/x" },
        { "--mount=type=tmpfs,target=/tmpfs-stub/b", "mv /tmpfs-stub /tmpfs-stub.moved && ln -s {0} /tmpfs-stub", "b/" },
        { "--mount=type=bind,source=dir,target=/bind-stub/n", "mv /bind-stub /bind-stub.moved && ln -s {0} /bind-stub", "n/" },
        { "--mount=type=bind,source=file.txt,target=/bind-file-stub/f", "mv /bind-file-stub /bind-file-stub.moved && ln -s {0} /bind-file-stub", "f" },
    };

    /// <summary>
    /// Mount points img creates for a RUN and removes after it: a step that moves the stub's parent away and puts a
    /// link to the canary there (where an empty entry of the stub's name waits) must not make img delete that entry.
    /// </summary>
    [Theory]
    [MemberData(nameof(MountStubAttacks))]
    public async Task MountStubRemovalDoesNotFollowALinkTheStepPlanted(string mount, string swap, string emptyEntry)
    {
        using var canary = Canary.Create("canary-stub", emptyEntry);
        var ctx = img.NewContext($"FROM base\nRUN {mount} {string.Format(swap, canary.Root)}\n",
            ("file.txt", "f"), ("dir/inside", "i"), ("secret.txt", "s3cr3t"));
        var r = await img.BuildAsync(ctx, ["--no-console", "--secret", $"id=s,src={Path.Combine(ctx, "secret.txt")}", "-o", "type=local,dest=out", "."]);
        canary.AssertUntouched($"RUN {mount} that swapped the stub's parent for a link");
        AssertContainedOrRefused(r);
    }

    // ---- exports and images (attack 9) ----

    /// <summary>
    /// <c>-o type=local,dest=</c> into a directory that already holds links to the canary at paths the image
    /// writes: the exporter writes in the destination, never through the links.
    /// </summary>
    [Fact]
    public async Task LocalExportDoesNotWriteThroughALinkInTheDestination()
    {
        using var canary = Canary.Create("canary-export");
        var ctx = img.NewContext("""
            FROM base
            RUN mkdir -p /exp/locked /exp/new && echo pwned > /exp/canary.txt && echo pwned > /exp/locked/secret.txt && echo pwned > /expfile
            """);
        var dest = Path.Combine(img.TempDir("img-escape-export"), "out");
        Directory.CreateDirectory(dest);
        File.CreateSymbolicLink(Path.Combine(dest, "exp"), canary.Root);
        File.CreateSymbolicLink(Path.Combine(dest, "expfile"), canary.File);
        if (TestUser.RunningAsRoot) (await ProcessRunner.RunAsync("chown", ["-R", "-h", $"{TestUser.Name}:{TestUser.Name}", dest])).EnsureSuccess("chown");
        var r = await img.BuildAsync(ctx, ["--no-console", "-o", $"type=local,dest={dest}", "."]);
        canary.AssertUntouched("-o type=local into a directory holding links");
        AssertContainedOrRefused(r);
    }

    public static TheoryData<string> HostileImageUses() => ["unpack", "FROM", "unpack-into-link"];

    /// <summary>
    /// An image whose layer holds <c>esc -&gt; canary</c> and then <c>esc/…</c> (made with <c>img import</c>):
    /// <c>img unpack</c> and a build on it apply the layer inside their root; unpack into a path that is a link does
    /// not write through it.
    /// </summary>
    [Theory]
    [MemberData(nameof(HostileImageUses))]
    public async Task HostileImageLayerStaysInsideItsRoot(string use)
    {
        using var canary = Canary.Create("canary-image");
        var work = img.TempDir("img-escape-image");
        var tar = Path.Combine(work, "rootfs.tar");
        WriteTar(tar, [.. Mirror(canary), TarSymlink("esc", canary.Root), TarFile("esc/canary.txt", "pwned"), TarFile("esc/new", "pwned"),
            TarDir("esc/locked/", 0b111_111_111), TarFile("esc/locked/secret.txt", "pwned"), TarFile("plain", "p")]);
        var name = "escape/hostile-" + Guid.NewGuid().ToString("N")[..8];
        var import = await img.ImgAsync(work, null, ["import", tar, name], timeout: AttackLimit);
        canary.AssertUntouched("img import of a hostile rootfs");
        // Such a tar is valid (docker imports it); what matters is where its entries land.
        import.EnsureSuccess("img import");
        ProcessResult r;
        switch (use)
        {
            case "unpack":
                r = await img.ImgAsync(work, null, ["unpack", "-o", Path.Combine(work, "rootfs"), name], timeout: AttackLimit);
                break;
            case "unpack-into-link":
                File.CreateSymbolicLink(Path.Combine(work, "rootfs-link"), canary.Root);
                r = await img.ImgAsync(work, null, ["unpack", "-o", Path.Combine(work, "rootfs-link"), name], timeout: AttackLimit);
                break;
            default:
                var ctx = img.NewContext($"FROM {name}\nCOPY busybox /busybox\nRUN [\"/busybox\", \"true\"]\n");
                r = await img.BuildAsync(ctx, ["--no-console", "-o", "type=local,dest=out", "."]);
                break;
        }
        canary.AssertUntouched($"{use} of a hostile image");
        AssertContainedOrRefused(r);
        await img.ImgAsync(work, null, ["rm", name]);
    }

    // ---- helpers ----

    /// <summary>Context links to the canary: <c>link</c> absolute, <c>rel</c> relative (the context and canary share a parent), <c>up -&gt; ..</c>.</summary>
    private static void PlantContextLinks(string ctx, Canary canary)
    {
        File.CreateSymbolicLink(Path.Combine(ctx, "link"), canary.Root);
        File.CreateSymbolicLink(Path.Combine(ctx, "rel"), Path.GetRelativePath(ctx, canary.Root));
        File.CreateSymbolicLink(Path.Combine(ctx, "up"), "..");
    }

    /// <summary>An attack img does not refuse must have run contained; one it refuses, with exit 1 and one clear error.</summary>
    private static void AssertContainedOrRefused(ProcessResult r)
    {
        if (r.ExitCode == 0) return;
        Assert.Equal(1, r.ExitCode);
        AssertClearError(r);
    }

    private static void AssertClearError(ProcessResult r)
    {
        var errors = r.Stderr.Split('\n').Where(l => l.StartsWith("Error:", StringComparison.Ordinal)).ToList();
        Assert.True(errors.Count == 1, "expected one `Error:` line:\n" + r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr); // no stack trace
    }

    private static TarEntry TarFile(string name, string content) =>
        new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)), Mode = (UnixFileMode)0b110_100_100 };

    private static TarEntry TarDir(string name, int mode) => new PaxTarEntry(TarEntryType.Directory, name) { Mode = (UnixFileMode)mode };

    private static TarEntry TarSymlink(string name, string target) => new PaxTarEntry(TarEntryType.SymbolicLink, name) { LinkName = target };

    private static TarEntry TarHardLink(string name, string target) => new PaxTarEntry(TarEntryType.HardLink, name) { LinkName = target };

    private static void WriteTar(string path, IEnumerable<TarEntry> entries)
    {
        using var fs = File.Create(path);
        using var writer = new TarWriter(fs, TarEntryFormat.Pax);
        foreach (var e in entries) writer.WriteEntry(e);
    }

    private sealed record LayerEntry(string Mode, string Owner, string Name)
    {
        public override string ToString() => $"{Mode} {Owner} {Name}";
    }

    /// <summary>Every entry of every layer in an OCI archive, as GNU tar lists it with numeric owners (ids past int).</summary>
    private async Task<List<LayerEntry>> LayerListingAsync(string ociArchive)
    {
        var dir = img.TempDir("img-escape-layers");
        var entries = new List<LayerEntry>();
        using (var reader = new TarReader(File.OpenRead(ociArchive)))
            while (reader.GetNextEntry() is { } e)
                if (e.DataStream is not null && e.Name.StartsWith("blobs/sha256/", StringComparison.Ordinal))
                    e.ExtractToFile(Path.Combine(dir, Path.GetFileName(e.Name)), true);
        foreach (var blob in Directory.GetFiles(dir))
        {
            var list = await ProcessRunner.RunAsync("tar", ["--numeric-owner", "-tvf", blob]);
            if (list.ExitCode != 0) continue; // a manifest or config, not a layer
            foreach (var line in list.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var f = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
                var name = f[5].Split(" -> ")[0].Split(" link to ")[0].TrimEnd('/');
                entries.Add(new LayerEntry(f[0], f[1], name.StartsWith("./", StringComparison.Ordinal) ? name[2..] : name));
            }
        }
        return entries;
    }
}
