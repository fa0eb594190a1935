using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Img.TestSupport;

namespace Img.IntegrationTests;

/// <summary>
/// Ctrl-C (SIGINT to the outer img process, which forwards it into the user namespace) while RUN is
/// running: img stops promptly and leaves no process, mount, bundle or active snapshot behind.
/// </summary>
public sealed class CancelBuildTests
{
    private const string Dockerfile = "FROM cancelbase\nARG NAP=60\nRUN mkdir /made && sleep $NAP && touch /made/done\n";

    [Theory]
    [InlineData("overlayfs")]
    [InlineData("native")]
    public async Task SigintDuringRunStopsTheBuildAndLeavesNothingBehind(string backend)
    {
        var img = new ImgCli();
        await img.RunAsync("import", await BusyboxRootfs.TarballAsync(), "cancelbase");
        var context = TestUser.CreateOwnedTempDir("cancel-ctx");
        await File.WriteAllTextAsync(Path.Combine(context, "Dockerfile"), Dockerfile);

        // env --default-signal: a test host started in the background has SIGINT ignored, and img keeps that.
        var (file, args) = TestUser.Wrap(RepoPaths.ImgBinary, ["--state", img.StateDir, "build", "--no-console", "-b", backend, "-t", "cancelled", context]);
        var psi = new ProcessStartInfo("env") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true, WorkingDirectory = Path.GetTempPath() };
        foreach (var a in (IEnumerable<string>)["--default-signal=INT", file, .. args]) psi.ArgumentList.Add(a);
        using var build = Process.Start(psi)!;
        var stderr = new StringBuilder();
        build.ErrorDataReceived += (_, e) => { lock (stderr) stderr.AppendLine(e.Data); };
        build.OutputDataReceived += (_, _) => { };
        build.BeginErrorReadLine();
        build.BeginOutputReadLine();

        // Wait until the step's process runs: the step line is printed and a sleep descends from img.
        List<TrackedProcess> tree = [];
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (true)
        {
            Assert.False(build.HasExited, "img build ended before its RUN started:\n" + Text(stderr));
            tree = ProcTable.Descendants(build.Id);
            if (Text(stderr).Contains("RUN mkdir /made && sleep $NAP", StringComparison.Ordinal) && tree.Any(p => p.Comm == "sleep")) break;
            Assert.True(DateTime.UtcNow < deadline, "the RUN step did not start within a minute:\n" + Text(stderr));
            await Task.Delay(100);
        }
        Assert.Contains(tree, p => p.Comm is "runc" or "crun");

        var sent = Stopwatch.StartNew();
        Assert.Equal(0, ProcTable.Kill(build.Id, 2));
        using (var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            try { await build.WaitForExitAsync(limit.Token); }
            catch (OperationCanceledException)
            {
                build.Kill(entireProcessTree: true);
                Assert.Fail("img build was still running 10 s after SIGINT:\n" + Text(stderr));
            }
        }
        Assert.NotEqual(0, build.ExitCode);
        build.WaitForExit();
        Assert.Contains("ERROR: context canceled", Text(stderr));
        Assert.True(sent.Elapsed < TimeSpan.FromSeconds(10));

        // No process of that build survives: not the namespace child, not runc/crun, not the sleep.
        var survivors = tree.Where(p => p.IsAlive()).ToList();
        Assert.True(survivors.Count == 0, "left running after SIGINT: " + string.Join(", ", survivors));
        var pgrep = await ProcessRunner.RunAsync("pgrep", ["-a", "-u", TestUser.Name, "-f", img.StateDir]);
        Assert.True(pgrep.ExitCode == 1, "processes of the test user still use the state dir:\n" + pgrep.Stdout);

        // No mount, bundle, mount point or active snapshot is left.
        Assert.DoesNotContain(img.StateDir, await File.ReadAllTextAsync("/proc/mounts"));
        Assert.Empty(Entries(Path.Combine(img.StateDir, "build-mounts")));
        Assert.Empty(Entries(Path.Combine(img.StateDir, "executor")));
        AssertOnlyCommittedSnapshots(img.StateDir, backend);
        await img.RunAsync("ls");

        // The same Dockerfile builds afterwards (a short nap), and still nothing is left active.
        var again = await img.TryAsync("build", "--no-console", "-b", backend, "--build-arg", "NAP=0", "-t", "cancelled", context);
        Assert.True(again.ExitCode == 0, "the build after the interrupted one failed:\n" + again.Stderr);
        AssertOnlyCommittedSnapshots(img.StateDir, backend);
        var dest = Path.Combine(TestUser.CreateOwnedTempDir("cancel-unpack"), "rootfs");
        await img.RunAsync("unpack", "-o", dest, "cancelled");
        Assert.True(File.Exists(Path.Combine(dest, "made", "done")));
    }

    private static void AssertOnlyCommittedSnapshots(string stateDir, string backend)
    {
        var dir = Path.Combine(stateDir, "snapshots", backend, "snapshots");
        var all = Entries(dir);
        Assert.NotEmpty(all);
        foreach (var snapshot in all)
        {
            var meta = Path.Combine(snapshot, "meta.json");
            Assert.True(File.Exists(meta), $"{snapshot} is a snapshot directory without a record (half-written or half-deleted)");
            using var doc = JsonDocument.Parse(File.ReadAllBytes(meta));
            var kind = doc.RootElement.GetProperty("kind").GetString();
            Assert.True(kind == "Committed", $"{snapshot} is left {kind}: {File.ReadAllText(meta)}");
        }
    }

    private static string[] Entries(string dir) => Directory.Exists(dir) ? Directory.GetFileSystemEntries(dir) : [];

    private static string Text(StringBuilder sb)
    {
        lock (sb) return sb.ToString();
    }
}
