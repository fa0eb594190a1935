using System.Diagnostics;
using System.Text;
using Img.TestSupport;
using Xunit.Abstractions;

namespace Img.IntegrationTests;

/// <summary>
/// A build secret lives only in memory and in the step's own environment or mount: while the RUN that uses it runs,
/// and after img is killed with SIGKILL in the middle of it, no file under the state directory or TMPDIR holds the
/// value (the runtime's bundle config.json once did, 0644, until the next build). The secret's source file is a
/// <see cref="Canary"/>: it is read, never changed.
/// </summary>
public sealed class SecretAtRestTests(ITestOutputHelper output)
{
    [RootTheory]
    [InlineData("env=SECRET_ENV")]
    [InlineData("env=SECRET_ENV,target=/etc/both")]
    [InlineData("target=/run/secrets/s")]
    public async Task SecretIsNotWrittenToDiskWhileTheStepRunsNorAfterAKill(string use)
    {
        using var canary = Canary.Create("canary-secret-src");
        var img = new ImgCli();
        var tmp = TestUser.CreateOwnedTempDir("secret-rest-tmp");
        img.Env["TMPDIR"] = tmp;
        await img.RunAsync("import", await BusyboxRootfs.TarballAsync(), "restbase");
        var ctx = TestUser.CreateOwnedTempDir("secret-rest-ctx");
        await File.WriteAllTextAsync(Path.Combine(ctx, "Dockerfile"),
            $"FROM restbase\nRUN --mount=type=secret,id=s,{use} sleep 8 && echo done > /done\n");
        await CrashData.ChownAsync(ctx);
        var needle = Encoding.UTF8.GetBytes(canary.Secret);
        var found = new SortedSet<string>(StringComparer.Ordinal);
        int scans = 0;

        using (var build = RunningImg.Start(img, "build", "--no-console", "--secret", $"id=s,src={canary.File}", "-t", "rest", ctx))
        {
            // Scan until the step has been running a while: its bundle is under executor/ once the runtime starts.
            var executor = Path.Combine(img.StateDir, "executor");
            var clock = Stopwatch.StartNew();
            TimeSpan? stepSeen = null;
            while (!build.HasExited && clock.Elapsed < TimeSpan.FromSeconds(60))
            {
                if (stepSeen is null && Directory.Exists(executor) && Directory.EnumerateFileSystemEntries(executor).Any()) stepSeen = clock.Elapsed;
                if (stepSeen is { } at && clock.Elapsed - at > TimeSpan.FromSeconds(3)) break;
                await ScanAsync("while the step runs");
                await Task.Delay(200);
            }
            Assert.True(stepSeen is not null && !build.HasExited,
                $"the step never showed running (exited: {build.HasExited})\n{build.Stderr}");
            var killed = await build.KillTreeAsync();
            Assert.NotEmpty(killed);
        }
        await ScanAsync("after kill -9");
        output.WriteLine($"{scans} scans of {img.StateDir} and {tmp}");
        canary.AssertUntouched("a build using it as a secret, killed");
        Assert.True(found.Count == 0, "the secret is on disk:\n  " + string.Join("\n  ", found));

        async Task ScanAsync(string when)
        {
            scans++;
            foreach (var dir in new[] { img.StateDir, tmp })
            {
                // Regular files only, links not followed: a FIFO would block the read.
                var list = await ProcessRunner.RunAsync("find", [dir, "-xdev", "-type", "f"]);
                foreach (var file in list.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                {
                    byte[] bytes;
                    try { bytes = await File.ReadAllBytesAsync(file); }
                    catch (IOException) { continue; } // gone since the listing
                    if (bytes.AsSpan().IndexOf(needle) >= 0) found.Add($"{file} ({when})");
                }
            }
        }
    }
}

/// <summary>A theory that needs root (to read every file img writes as another user): skipped, with the reason, otherwise.</summary>
public sealed class RootTheoryAttribute : TheoryAttribute
{
    public RootTheoryAttribute()
    {
        if (!TestUser.RunningAsRoot) Skip = "needs root: the test reads every file under the test user's state directory";
    }
}
