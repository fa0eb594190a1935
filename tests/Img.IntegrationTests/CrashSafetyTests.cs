using System.Diagnostics;
using System.Formats.Tar;
using Img.TestSupport;
using Xunit.Abstractions;

namespace Img.IntegrationTests;

/// <summary>
/// kill -9 at a random moment of pull, build, save and push (the outer img and every process under
/// it), then: the store is consistent, the same command run again succeeds and its result is right.
/// The suite makes <see cref="CrashLoop.Kills"/> kills per operation with small data; bench/crash/run.sh
/// runs the long mode (IMG_CRASH_KILLS, IMG_CRASH_MIB).
/// </summary>
public sealed class CrashSafetyTests(ITestOutputHelper output)
{
    [Fact]
    public async Task PullSurvivesKill9()
    {
        await using var registry = await RegistryServer.StartAsync(RegistryShape.Plain);
        var seeder = new ImgCli();
        string reference = $"{registry.HostPort}/crash/pull:v1";
        await seeder.RunAsync("import", await CrashData.RandomTarAsync(CrashLoop.MiB), reference);
        await seeder.RunAsync("push", reference);
        string digest = StoreChecker.ParseLs((await seeder.RunAsync("ls")).Stdout).Single(r => r.Name == reference).Digest;

        var img = new ImgCli();
        var loop = new CrashLoop("pull", output, img)
        {
            // rm and prune, so that every pull downloads the blobs again.
            Prepare = async _ =>
            {
                if ((await img.RunAsync("ls")).Stdout.Contains(reference)) await img.RunAsync("rm", reference);
                await img.RunAsync("prune");
            },
            Command = _ => ["pull", reference],
            Verify = async _ =>
            {
                var rows = StoreChecker.ParseLs((await img.RunAsync("ls")).Stdout);
                Assert.Contains((reference, digest), rows);
            },
        };
        await loop.RunAsync();
    }

    [Fact]
    public async Task BuildSurvivesKill9()
    {
        var img = new ImgCli();
        await img.RunAsync("import", await BusyboxRootfs.TarballAsync(), "crashbase");
        var context = TestUser.CreateOwnedTempDir("crash-ctx");
        await File.WriteAllTextAsync(Path.Combine(context, "payload"), "payload of the crash build\n");
        await File.WriteAllTextAsync(Path.Combine(context, "Dockerfile"),
            $"FROM crashbase\nRUN dd if=/dev/urandom of=/big bs=1048576 count={CrashLoop.MiB} 2>/dev/null\nCOPY payload /payload\n");
        await CrashData.ChownAsync(context);
        var unpackRoot = TestUser.CreateOwnedTempDir("crash-unpack");

        var loop = new CrashLoop("build", output, img)
        {
            Command = _ => ["build", "--no-console", "--no-cache", "-t", "crash/build", context],
            Verify = async i =>
            {
                var dest = Path.Combine(unpackRoot, $"r{i}");
                await img.RunAsync("unpack", "-o", dest, "crash/build");
                Assert.Equal(CrashLoop.MiB * 1048576L, new FileInfo(Path.Combine(dest, "big")).Length);
                Assert.Equal("payload of the crash build\n", await File.ReadAllTextAsync(Path.Combine(dest, "payload")));
                Directory.Delete(dest, true);
            },
        };
        await loop.RunAsync();
    }

    [Fact]
    public async Task SaveSurvivesKill9()
    {
        var img = new ImgCli();
        await img.RunAsync("import", await CrashData.RandomTarAsync(CrashLoop.MiB), "crash/save:v1");
        string digest = StoreChecker.ParseLs((await img.RunAsync("ls")).Stdout).Single().Digest;
        var dir = TestUser.CreateOwnedTempDir("crash-save");
        var archive = Path.Combine(dir, "image.tar");
        var loader = new ImgCli();

        var loop = new CrashLoop("save", output, img)
        {
            Prepare = _ => { File.Delete(archive); return Task.CompletedTask; },
            Command = _ => ["save", "-o", archive, "crash/save:v1"],
            AfterKill = async _ =>
            {
                // Nothing half-written under the final name: an archive that is there is whole.
                if (File.Exists(archive)) await LoadAndCheckAsync();
            },
            Verify = async _ =>
            {
                await LoadAndCheckAsync();
                // The next save to the same file removes what a killed one left beside it.
                var leftovers = Directory.GetFiles(dir).Where(f => f != archive).ToList();
                Assert.True(leftovers.Count == 0, "temp files of killed saves are left beside the archive: " + string.Join(", ", leftovers));
            },
        };
        await loop.RunAsync();

        async Task LoadAndCheckAsync()
        {
            await loader.RunAsync("load", "-i", archive);
            Assert.Contains(("docker.io/crash/save:v1", digest), StoreChecker.ParseLs((await loader.RunAsync("ls")).Stdout));
            await loader.RunAsync("rm", "crash/save:v1");
        }
    }

    [Fact]
    public async Task PushSurvivesKill9()
    {
        await using var registry = await RegistryServer.StartAsync(RegistryShape.Plain);
        var img = new ImgCli();
        await img.RunAsync("import", await CrashData.RandomTarAsync(CrashLoop.MiB), "crash/push:v1");
        string digest = StoreChecker.ParseLs((await img.RunAsync("ls")).Stdout).Single().Digest;
        string Target(int i) => $"{registry.HostPort}/crash/push-{i + 1}:v1";

        var loop = new CrashLoop("push", output, img)
        {
            Prepare = i => img.RunAsync("tag", "crash/push:v1", Target(i)),
            Command = i => ["push", Target(i)],
            Verify = async i =>
            {
                var inspect = await ImgCli.AsUserAsync("skopeo", "inspect", "--tls-verify=false", $"docker://{Target(i)}");
                inspect.EnsureSuccess("skopeo inspect");
                Assert.Contains(digest, inspect.Stdout);
            },
        };
        await loop.RunAsync();
    }

    /// <summary>
    /// SIGKILL of only the outer img (as a user's kill -9 or an OOM kill does) while a RUN step runs:
    /// the namespace child must not go on building and holding the store's lock on its own.
    /// </summary>
    [Fact]
    public async Task KillingOnlyTheOuterImgStopsTheNamespaceChild()
    {
        var img = new ImgCli();
        await img.RunAsync("import", await BusyboxRootfs.TarballAsync(), "orphanbase");
        var context = TestUser.CreateOwnedTempDir("orphan-ctx");
        await File.WriteAllTextAsync(Path.Combine(context, "Dockerfile"), "FROM orphanbase\nRUN sleep 60 && touch /done\n");
        await CrashData.ChownAsync(context);

        using var build = RunningImg.Start(img, "build", "--no-console", "-t", "orphan", context);
        List<TrackedProcess> tree = [];
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (!(tree = ProcTable.Descendants(build.Pid)).Any(p => p.Comm == "sleep"))
        {
            Assert.False(build.HasExited, "the build ended before its RUN started:\n" + build.Stderr);
            Assert.True(DateTime.UtcNow < deadline, "the RUN step did not start within a minute:\n" + build.Stderr);
            await Task.Delay(100);
        }
        Assert.Equal(0, ProcTable.Kill(build.Pid, ProcTable.SIGKILL));
        await build.WaitAsync(TimeSpan.FromSeconds(10));

        var gone = Stopwatch.StartNew();
        while (tree.Any(p => !p.IsGone()) && gone.Elapsed < TimeSpan.FromSeconds(15)) await Task.Delay(100);
        var survivors = tree.Where(p => p.IsAlive()).ToList();
        foreach (var s in survivors) ProcTable.Kill(s.Pid, ProcTable.SIGKILL);
        Assert.True(survivors.Count == 0, "still running 15 s after the outer img was killed: " + string.Join(", ", survivors) + "\nimg's output:\n" + build.Stderr);
        output.WriteLine($"namespace child and its container gone {gone.ElapsedMilliseconds} ms after the outer img was killed");
        await StoreChecker.AssertConsistentAsync(img, tree);
        Assert.DoesNotContain("orphan:latest", (await img.RunAsync("ls")).Stdout);
    }
}

/// <summary>
/// Measures a command's normal duration once, then repeats: prepare, start, SIGKILL the tree after a
/// random delay in [0, duration], check the store, run the command again to completion, verify.
/// </summary>
public sealed class CrashLoop(string operation, ITestOutputHelper output, ImgCli img)
{
    /// <summary>Kills per operation (IMG_CRASH_KILLS, default 20).</summary>
    public static int Kills => int.TryParse(Environment.GetEnvironmentVariable("IMG_CRASH_KILLS"), out var n) && n > 0 ? n : 20;

    /// <summary>Size of the random data in MiB (IMG_CRASH_MIB, default 4).</summary>
    public static int MiB => int.TryParse(Environment.GetEnvironmentVariable("IMG_CRASH_MIB"), out var n) && n > 0 ? n : 4;

    public Func<int, Task> Prepare { get; init; } = _ => Task.CompletedTask;

    public required Func<int, string[]> Command { get; init; }

    public Func<int, Task> AfterKill { get; init; } = _ => Task.CompletedTask;

    public required Func<int, Task> Verify { get; init; }

    public async Task RunAsync()
    {
        var seed = Environment.TickCount;
        var random = new Random(seed);
        // Iteration -1 has no kill: it proves the command works and measures its normal duration
        // (the shortest of three runs: the first is cold, and an outlier would let most runs finish).
        var duration = TimeSpan.MaxValue;
        for (int warm = 0; warm < 3; warm++)
        {
            await Prepare(-1);
            var sw = Stopwatch.StartNew();
            await img.RunAsync(Command(-1));
            if (sw.Elapsed < duration) duration = sw.Elapsed;
            await Verify(-1);
        }

        int killedWhileRunning = 0, finishedFirst = 0;
        var total = Stopwatch.StartNew();
        // Runs that finish before their kill do not count: go on until Kills kills hit a running command.
        for (int i = 0; killedWhileRunning < Kills && i < 3 * Kills; i++)
        {
            await Prepare(i);
            var delay = TimeSpan.FromMilliseconds(random.NextDouble() * duration.TotalMilliseconds);
            using var running = RunningImg.Start(img, Command(i));
            await Task.Delay(delay);
            var killed = await running.KillTreeAsync();
            if (killed.Count > 0) killedWhileRunning++;
            else
            {
                finishedFirst++;
                Assert.True(running.ExitCode == 0, $"{operation} #{i} failed without a kill:\n{running.Stderr}");
            }
            string when = $"after kill #{i} of {operation} at {delay.TotalMilliseconds:F0} ms (seed {seed})";
            await StoreChecker.AssertConsistentAsync(img, killed, when);
            await AfterKill(i);
            var again = await img.TryAsync(Command(i));
            Assert.True(again.ExitCode == 0, $"{operation} run again {when} failed:\n{again.Stderr}");
            await Verify(i);
        }
        await StoreChecker.AssertConsistentAsync(img, null, $"at the end of the {operation} loop");
        output.WriteLine($"{operation}: {killedWhileRunning} kills survived, {finishedFirst} runs finished before the kill; " +
                         $"normal duration {duration.TotalMilliseconds:F0} ms, {MiB} MiB, loop {total.Elapsed.TotalSeconds:F1} s, seed {seed}; " +
                         $"left behind: {StoreChecker.Leftovers(img.StateDir)}");
        Assert.True(killedWhileRunning >= Kills, $"only {killedWhileRunning} of {3 * Kills} kills hit a running {operation}");
    }
}

/// <summary>Random incompressible data as tarballs the test user owns.</summary>
public static class CrashData
{
    /// <summary>A rootfs tar of a few random files totalling <paramref name="mib"/> MiB.</summary>
    public static async Task<string> RandomTarAsync(int mib)
    {
        var dir = TestUser.CreateOwnedTempDir("crash-data");
        var tar = Path.Combine(dir, "random.tar");
        await using (var fs = File.Create(tar))
        await using (var writer = new TarWriter(fs, TarEntryFormat.Pax))
        {
            await writer.WriteEntryAsync(new PaxTarEntry(TarEntryType.Directory, "data/") { Mode = (UnixFileMode)0b111_101_101 });
            int files = Math.Max(1, mib / 4);
            for (int f = 0; f < files; f++)
            {
                var bytes = new byte[(long)mib * 1048576 / files];
                Random.Shared.NextBytes(bytes);
                await writer.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, $"data/random-{f}.bin")
                {
                    DataStream = new MemoryStream(bytes),
                    Mode = (UnixFileMode)0b110_100_100,
                });
            }
        }
        await ChownAsync(dir);
        return tar;
    }

    public static async Task ChownAsync(string path)
    {
        if (TestUser.RunningAsRoot)
            (await ProcessRunner.RunAsync("chown", ["-R", $"{TestUser.Name}:{TestUser.Name}", path])).EnsureSuccess("chown");
    }
}
