using Img.TestSupport;

namespace Img.IntegrationTests;

/// <summary>Runs the published img binary as the unprivileged test user, with its own state directory.</summary>
public sealed class ImgCli
{
    public ImgCli(string? stateDir = null, string? user = null)
    {
        if (!File.Exists(RepoPaths.ImgBinary))
            throw new InvalidOperationException($"{RepoPaths.ImgBinary} is missing: publish it first (tools/test.sh does: dotnet publish src/Img.Cli -c Release -o out)");
        User = user;
        StateDir = stateDir ?? Path.Combine(TestUser.CreateOwnedTempDir("img-state", user), "state");
    }

    public string StateDir { get; }

    /// <summary>The user img runs as: the test user unless named.</summary>
    public string? User { get; }

    public Dictionary<string, string?> Env { get; } = new();

    /// <summary>img with <c>--state</c> added; the result is not checked.</summary>
    public Task<ProcessResult> TryAsync(params string[] args) => RunRawAsync(["--state", StateDir, .. args]);

    public async Task<ProcessResult> RunAsync(params string[] args) =>
        (await TryAsync(args)).EnsureSuccess("img " + string.Join(' ', args));

    public Task<ProcessResult> RunRawAsync(IEnumerable<string> args, string? stdin = null, string? cwd = null, Stream? stdoutSink = null)
    {
        var (file, wrapped) = TestUser.Wrap(RepoPaths.ImgBinary, args, Env, User);
        return ProcessRunner.RunAsync(file, wrapped, stdin, env: null, workingDirectory: cwd ?? Path.GetTempPath(), timeout: TimeSpan.FromMinutes(5), stdoutSink: stdoutSink);
    }

    /// <summary>Runs any program as the test user (tar, skopeo, umoci …).</summary>
    public static Task<ProcessResult> AsUserAsync(string file, params string[] args)
    {
        var (f, a) = TestUser.Wrap(file, args);
        return ProcessRunner.RunAsync(f, a, workingDirectory: Path.GetTempPath(), timeout: TimeSpan.FromMinutes(5));
    }
}
