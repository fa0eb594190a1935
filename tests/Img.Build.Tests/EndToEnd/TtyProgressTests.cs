using Img.TestSupport;

namespace Img.Build.Tests.EndToEnd;

/// <summary>On a terminal (a real pty through <c>script</c>) the build draws BuildKit's live progress.</summary>
[Collection("img build")]
public sealed class TtyProgressTests(ImgBuildFixture img)
{
    private static string ShellQuote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    [Fact]
    public async Task TerminalShowsBuildingAndFinished()
    {
        var ctx = img.NewContext("FROM base\nRUN echo tty > /tty\n");
        var command = string.Join(' ', new[] { RepoPaths.ImgBinary, "-s", img.State, "build", "-o", "type=local,dest=out", "." }.Select(ShellQuote));
        var (file, args) = TestUser.Wrap("script", ["-qec", command, "/dev/null"], new Dictionary<string, string?> { ["TERM"] = "xterm" });
        var r = await ProcessRunner.RunAsync(file, args, workingDirectory: ctx, timeout: TimeSpan.FromMinutes(3));
        r.EnsureSuccess("build on a pty");
        Assert.Contains("[+] Building", r.Stdout);
        Assert.Matches(@"\[\+\] Building \d+\.\ds \(\d+/\d+\) FINISHED", r.Stdout);
        Assert.Contains("RUN echo tty > /tty", r.Stdout);
        Assert.Equal("tty\n", File.ReadAllText(Path.Combine(ctx, "out/tty")));
    }

    [Fact]
    public async Task TerminalShowsAFailureWithoutFinished()
    {
        var ctx = img.NewContext("FROM base\nRUN exit 7\n");
        var command = string.Join(' ', new[] { RepoPaths.ImgBinary, "-s", img.State, "build", "-o", "type=local,dest=out", "." }.Select(ShellQuote));
        var (file, args) = TestUser.Wrap("script", ["-qec", command, "/dev/null"], new Dictionary<string, string?> { ["TERM"] = "xterm" });
        var r = await ProcessRunner.RunAsync(file, args, workingDirectory: ctx, timeout: TimeSpan.FromMinutes(3));
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("[+] Building", r.Stdout);
        Assert.DoesNotContain("FINISHED", r.Stdout);
        Assert.Contains("exit code: 7", r.Stdout);
    }
}
