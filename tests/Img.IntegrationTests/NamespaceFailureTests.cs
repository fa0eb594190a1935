using System.Diagnostics;
using Img.TestSupport;

namespace Img.IntegrationTests;

/// <summary>
/// A user namespace that cannot be made ends the command at once with one actionable line and leaves no process
/// behind. The failure is real: img runs inside a user namespace of the test user's own whose namespace limit is
/// already used up, so unshare gets ENOSPC after forking its id-mapping helpers (which used to wait forever).
/// </summary>
public sealed class NamespaceFailureTests
{
    [Fact]
    public async Task A_refused_namespace_fails_fast_with_the_cause_and_leaves_no_helper_running()
    {
        var state = TestUser.CreateOwnedTempDir("img-nsfail");
        var pidFile = Path.Combine(state, "holder.pid");
        // The holder namespace keeps the limit of 1 used; USER names the test user so its subordinate ranges (and so
        // unshare's newuidmap helpers) are used. The image command must end by itself, well inside the timeout.
        var script = $"echo 1 > /proc/sys/user/max_user_namespaces && (unshare -U sleep 60 & echo $! > {pidFile}) && sleep 0.3 && " +
                     $"{RepoPaths.ImgBinary} -s {state}/s ls; echo \"rc=$?\"; kill $(cat {pidFile})";
        var (file, args) = TestUser.Wrap("unshare", ["-U", "-r", "sh", "-c", script], new Dictionary<string, string?> { ["USER"] = TestUser.Name, ["IMG_ISOLATION"] = "userns" });
        var watch = Stopwatch.StartNew();
        var r = await ProcessRunner.RunAsync(file, args, timeout: TimeSpan.FromSeconds(60));
        watch.Stop();

        Assert.Contains("rc=1", r.Stdout);
        var errors = r.Stderr.Split('\n').Where(l => l.StartsWith("Error:", StringComparison.Ordinal)).ToList();
        Assert.Single(errors);
        Assert.Contains("limit of user namespaces is reached", errors[0]);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"took {watch.Elapsed}");
        // Nothing is left waiting: no live unshare helper of this command (orphans would be re-parented to pid 1).
        // Killed helpers are zombies until img's exit hands them to init, so live ones are counted, briefly retried.
        List<string> left = [];
        for (var i = 0; i < 20; i++)
        {
            left = await LiveUnshareOf(state);
            if (left.Count == 0) break;
            await Task.Delay(250);
        }
        Assert.True(left.Count == 0, "unshare processes left:\n" + string.Join('\n', left));
    }

    private static async Task<List<string>> LiveUnshareOf(string state)
    {
        var ps = await ProcessRunner.RunAsync("ps", ["-u", TestUser.Name, "-o", "pid=,stat=,args="]);
        return ps.Stdout.Split('\n').Select(l => l.Trim())
            .Where(l => l.Contains("unshare", StringComparison.Ordinal) && l.Split(' ', StringSplitOptions.RemoveEmptyEntries) is [_, var stat, ..] && !stat.StartsWith('Z'))
            .Where(l => l.Contains(state, StringComparison.Ordinal) || l.EndsWith("-- true", StringComparison.Ordinal))
            .ToList();
    }
}
