using Img.TestSupport;

namespace Img.IntegrationTests;

/// <summary>
/// RUN where a fresh /proc cannot be mounted, as in an unprivileged docker container or Kubernetes pod: their /proc has
/// paths covered by other mounts (docker binds /proc/sys over itself, among others), and once those mounts are locked
/// — copied into a namespace of a less privileged user — the kernel refuses any new procfs. The test builds exactly
/// that as the test user: an outer user namespace covers /proc/sys as docker does, an inner one (the container's view)
/// runs img already inside its namespace. RUN then shares img's PID namespace and sees its /proc read-only.
/// </summary>
public sealed class ProcessSandboxTests
{
    private const string Dockerfile = """
        FROM busybox
        RUN echo "pid=$$" && grep " /proc " /proc/mounts && echo hi > /made-by-run
        RUN cat /made-by-run

        """;

    [Fact]
    public async Task Without_a_fresh_proc_RUN_shares_the_pid_namespace_and_sees_proc_read_only()
    {
        var state = Path.Combine(TestUser.CreateOwnedTempDir("img-masked-proc"), "state");
        var ctx = await ContextAsync();
        (await MaskedProcAsync(state, "import", await BusyboxRootfs.TarballAsync(), "busybox")).EnsureSuccess("img import");

        var r = await MaskedProcAsync(state, "-d", "build", "--no-console", "-t", "masked", ctx);
        Assert.True(r.ExitCode == 0, $"img build failed ({r.ExitCode}):\n{r.Stderr}");
        var pid = int.Parse(System.Text.RegularExpressions.Regex.Match(r.Stderr, @"pid=(\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.NotEqual(1, pid); // no PID namespace of its own: the shell is not its init
        Assert.Matches(@"proc /proc proc ro,", r.Stderr);
        Assert.Matches(@"#\d+ hi\n", r.Stderr);
        // Said once, at debug level, for the two RUN steps.
        Assert.Single(r.Stderr.Split('\n'), l => l.Contains("level=debug", StringComparison.Ordinal) && l.Contains("a fresh /proc cannot be mounted here", StringComparison.Ordinal));
        Assert.DoesNotContain("freezer", r.Stderr);

        // img info there says so, and what gives the isolation back.
        var info = await MaskedProcAsync(state, "info");
        Assert.Equal(0, info.ExitCode);
        Assert.StartsWith("no (", InfoTests.Fields(info.Stdout)["fresh /proc"]);
        Assert.Contains("--security-opt systempaths=unconfined", info.Stdout);
        Assert.Contains("procMount: Unmasked", info.Stdout);
    }

    [Fact]
    public async Task With_a_fresh_proc_RUN_has_its_own_pid_namespace()
    {
        var img = new ImgCli();
        await img.RunAsync("import", await BusyboxRootfs.TarballAsync(), "busybox");
        var r = await img.TryAsync("-d", "build", "--no-console", "-t", "sandboxed", await ContextAsync());
        Assert.True(r.ExitCode == 0, $"img build failed ({r.ExitCode}):\n{r.Stderr}");
        Assert.Contains("pid=1\n", r.Stderr);
        Assert.Matches(@"proc /proc proc rw,", r.Stderr);
        Assert.DoesNotContain("a fresh /proc cannot be mounted", r.Stderr);
    }

    private static async Task<string> ContextAsync()
    {
        var ctx = TestUser.CreateOwnedTempDir("masked-proc-ctx");
        await File.WriteAllTextAsync(Path.Combine(ctx, "Dockerfile"), Dockerfile);
        return ctx;
    }

    /// <summary>img as the test user, as root of a single-id namespace nested in one whose /proc/sys is covered.</summary>
    private static Task<ProcessResult> MaskedProcAsync(string state, params string[] args)
    {
        const string script = "mount --rbind /proc/sys /proc/sys && exec unshare --user --map-root-user --mount --propagation private env IMG_IN_USERNS=1 \"$0\" \"$@\"";
        var (file, wrapped) = TestUser.Wrap("unshare", ["--user", "--map-root-user", "--mount", "--propagation", "private", "sh", "-c", script,
            RepoPaths.ImgBinary, "--state", state, .. args]);
        return ProcessRunner.RunAsync(file, wrapped, workingDirectory: Path.GetTempPath(), timeout: TimeSpan.FromMinutes(5));
    }
}
