using System.Diagnostics;
using System.Text.Json.Nodes;
using Img.Runtime.Namespaces;
using Img.TestSupport;

namespace Img.Runtime.Tests;

[Collection("sandbox")]
public sealed class UserNamespaceTests(SandboxFixture sandbox)
{
    [Fact]
    public async Task Reexec_makes_the_user_root_with_the_whole_subordinate_range()
    {
        var r = (await sandbox.RunAsUserAsync("info")).EnsureSuccess("probe info");
        var info = JsonNode.Parse(r.Stdout)!;
        Assert.True((bool)info["inNamespace"]!);
        // The ids come from the test user's real entries: other users may hold other ranges on this machine.
        Assert.Equal(TestUserIds.Uid, (long)info["hostEuid"]!);
        var uidMap = Lines((string)info["uidMap"]!);
        Assert.Equal([$"0 {TestUserIds.Uid} 1", TestUserIds.SubUids.MapLine], uidMap);
        Assert.Equal([$"0 {TestUserIds.Gid} 1", TestUserIds.SubGids.MapLine], Lines((string)info["gidMap"]!));
        Assert.Contains($"uid_map: 0 {TestUserIds.Uid} 1; {TestUserIds.SubUids.MapLine}", (string)info["describe"]!);
    }

    [Fact]
    public async Task Reexec_returns_the_child_exit_code()
    {
        var r = await sandbox.RunAsUserAsync("exit", "7");
        Assert.Equal(7, r.ExitCode);
    }

    [Fact]
    public async Task Sigint_to_the_parent_reaches_the_child_and_the_parent_returns()
    {
        var (file, args) = TestUser.Wrap(sandbox.ProbePath, ["sleep", "37"]);
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var parent = Process.Start(psi)!;
        var stderr = parent.StandardError.ReadToEndAsync();
        Assert.Equal("ready", await parent.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)));
        // setpriv and env exec, so this pid is the outer probe, which forwards the signal.
        (await ProcessRunner.RunAsync("kill", ["-INT", parent.Id.ToString()])).EnsureSuccess("kill");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await parent.WaitForExitAsync(timeout.Token);
        Assert.Equal(130, parent.ExitCode);
        var left = await ProcessRunner.RunAsync("pgrep", ["-f", "SandboxProbe sleep 37"]);
        Assert.True(left.ExitCode == 1, "probe still running: " + left.Stdout + await stderr);
    }

    [Fact]
    public void Reexec_command_runs_unshare_with_a_private_mount_namespace()
    {
        var cmd = UserNamespace.BuildReexecCommand("/bin/true", ["a", "b"]);
        Assert.EndsWith("unshare", cmd.File);
        var args = cmd.Args.ToList();
        Assert.Equal(["--user", "--map-root-user"], args.Take(2));
        Assert.Equal(["--mount", "--propagation", "private", "--", "/bin/true", "a", "b"], args.TakeLast(7));
        if (TestUser.RunningAsRoot)
        {
            // root has no subordinate ranges here: single-id map, and a warning that says what that breaks.
            Assert.DoesNotContain(args, a => a.StartsWith("--map-users", StringComparison.Ordinal));
            Assert.Contains("chown in RUN fails", cmd.Warning);
        }
    }

    [Fact]
    public void Subordinate_ranges_match_by_name_or_uid_and_the_largest_wins()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "# comment\nalice:100000:65536\nbob:200000:65536\n1234:300000:10\nalice:400000:131072\nbroken line\n");
            var alice = SubordinateIds.Read(file, "alice", 1234);
            Assert.Equal([new SubordinateRange(100000, 65536), new SubordinateRange(300000, 10), new SubordinateRange(400000, 131072)], alice);
            Assert.Equal(new SubordinateRange(400000, 131072), SubordinateIds.Largest(alice));
            Assert.Empty(SubordinateIds.Read(file, "carol", 99));
            Assert.Null(SubordinateIds.Largest([]));
        }
        finally { File.Delete(file); }
    }

    private static string[] Lines(string map) =>
        map.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => string.Join(' ', l.Split(' ', StringSplitOptions.RemoveEmptyEntries))).ToArray();
}
