using System.Text.RegularExpressions;
using Img.TestSupport;
using Xunit.Abstractions;

namespace Img.IntegrationTests;

/// <summary>
/// A build killed with SIGKILL leaves active snapshots, OCI bundles, mount dirs and runtime states; the next
/// <c>img prune</c> or <c>img build</c> removes them, and never what a running build still uses.
/// </summary>
public sealed partial class StaleWorkTests(ITestOutputHelper output)
{
    [Fact]
    public async Task PruneRemovesWhatAKilledBuildLeftButNotWhatARunningBuildUses()
    {
        var (img, context) = await PrepareAsync();
        using (var build = await StartSleepingBuildAsync(img, context))
        {
            // Prune beside the running build reclaims first, then waits for the build's hold on the store:
            // by then the build's snapshot, bundle, mount dir and runtime state must still be there.
            using var prune = RunningImg.Start(img, "prune");
            await Task.Delay(TimeSpan.FromSeconds(3));
            var during = StoreChecker.Leftovers(img.StateDir);
            output.WriteLine("while the build runs, with prune started: " + during);
            Assert.False(build.HasExited, "the build ended while prune ran:\n" + build.Stderr);
            Assert.True(Counts(during).Take(3).All(n => n > 0) && RuntimeStates(img.StateDir) > 0,
                "prune removed work of a running build: " + during + "\n" + prune.Stderr);
            await KillAsync(img, build);
            Assert.True(await prune.WaitAsync(TimeSpan.FromMinutes(1)) == 0, "prune failed:\n" + prune.Stderr);
        }

        await img.RunAsync("prune");
        AssertNoLeftovers(img, "after prune");
        await StoreChecker.AssertConsistentAsync(img, when: "after prune");
        await img.RunAsync("build", "--no-console", "-t", "after", Path.Combine(context, "ok"));
    }

    [Fact]
    public async Task TheNextBuildRemovesWhatAKilledBuildLeft()
    {
        var (img, context) = await PrepareAsync();
        using (var build = await StartSleepingBuildAsync(img, context))
            await KillAsync(img, build);

        await img.RunAsync("build", "--no-console", "-t", "after", Path.Combine(context, "ok"));
        AssertNoLeftovers(img, "after the next build");
        await StoreChecker.AssertConsistentAsync(img, when: "after the next build");
    }

    private static async Task<(ImgCli Img, string Context)> PrepareAsync()
    {
        var img = new ImgCli();
        await img.RunAsync("import", await BusyboxRootfs.TarballAsync(), "stalebase");
        var context = TestUser.CreateOwnedTempDir("stale-ctx");
        Directory.CreateDirectory(Path.Combine(context, "ok"));
        Directory.CreateDirectory(Path.Combine(context, "slow"));
        await File.WriteAllTextAsync(Path.Combine(context, "ok", "Dockerfile"), "FROM stalebase\nRUN echo built > /built\n");
        await File.WriteAllTextAsync(Path.Combine(context, "slow", "Dockerfile"), "FROM stalebase\nRUN sleep 30 && touch /done\n");
        await CrashData.ChownAsync(context);
        // A state as a real user has it: one finished build.
        await img.RunAsync("build", "--no-console", "-t", "first", Path.Combine(context, "ok"));
        AssertNoLeftovers(img, "after a finished build");
        return (img, context);
    }

    private static async Task<RunningImg> StartSleepingBuildAsync(ImgCli img, string context)
    {
        var build = RunningImg.Start(img, "build", "--no-console", "-t", "slow", Path.Combine(context, "slow"));
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (!ProcTable.Descendants(build.Pid).Any(p => p.Comm == "sleep"))
        {
            Assert.False(build.HasExited, "the build ended before its RUN started:\n" + build.Stderr);
            Assert.True(DateTime.UtcNow < deadline, "the RUN step did not start within a minute:\n" + build.Stderr);
            await Task.Delay(100);
        }
        return build;
    }

    private async Task KillAsync(ImgCli img, RunningImg build)
    {
        var killed = await build.KillTreeAsync();
        Assert.True(killed.Count > 0, $"the build ended before it was killed ({build.ExitCode}):\n{build.Stderr}");
        var left = StoreChecker.Leftovers(img.StateDir);
        output.WriteLine("after kill -9: " + left + $", {RuntimeStates(img.StateDir)} runtime states in all");
        var counts = Counts(left);
        Assert.True(counts[0] > 0 && counts[1] > 0 && counts[2] > 0 && RuntimeStates(img.StateDir) > 0,
            "the killed build left less than expected, so the test proves nothing: " + left);
    }

    private static void AssertNoLeftovers(ImgCli img, string when)
    {
        var left = StoreChecker.Leftovers(img.StateDir);
        Assert.True(Counts(left).All(n => n == 0) && RuntimeStates(img.StateDir) == 0, $"left behind {when}: {left}, {RuntimeStates(img.StateDir)} runtime states");
    }

    // Leftovers counts runc's states only; the runtime in use may be crun.
    private static int RuntimeStates(string state)
    {
        var root = Path.Combine(state, "runtime-root");
        return Directory.Exists(root) ? Directory.EnumerateDirectories(root).Sum(d => Directory.GetFileSystemEntries(d).Length) : 0;
    }

    private static List<int> Counts(string leftovers) => Number().Matches(leftovers).Select(m => int.Parse(m.Value)).ToList();

    [GeneratedRegex(@"\d+")]
    private static partial Regex Number();
}
