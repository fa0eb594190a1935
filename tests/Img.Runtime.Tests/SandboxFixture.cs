using System.Text.Json;
using System.Text.Json.Nodes;
using Img.TestSupport;

namespace Img.Runtime.Tests;

/// <summary>
/// Builds the SandboxProbe console app once and a busybox rootfs, and runs the probe as the
/// unprivileged test user (or as root), so namespace, snapshot and runtime code run for real.
/// </summary>
public sealed class SandboxFixture : IAsyncLifetime
{
    public string ProbeDir { get; private set; } = "";
    public string ProbePath => Path.Combine(ProbeDir, "SandboxProbe");
    public string Rootfs { get; private set; } = "";

    public async Task InitializeAsync()
    {
        ProbeDir = TestUser.CreateOwnedTempDir("img-sandbox-probe");
        var project = Path.Combine(RepoPaths.Root, "tests", "Img.Runtime.Tests", "SandboxProbe", "SandboxProbe.csproj");
        (await ProcessRunner.RunAsync("dotnet", ["build", project, "-nologo", "-v", "q", "-o", ProbeDir], timeout: TimeSpan.FromMinutes(5)))
            .EnsureSuccess("dotnet build SandboxProbe");
        Rootfs = await BusyboxRootfs.CreateAsync();
    }

    public Task DisposeAsync()
    {
        foreach (var d in new[] { ProbeDir, Path.GetDirectoryName(Rootfs)! })
            try { Directory.Delete(d, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        return Task.CompletedTask;
    }

    /// <summary>Runs the probe as the test user (through setpriv when the tests run as root).</summary>
    public Task<ProcessResult> RunAsUserAsync(params string[] args) => RunAsync(asUser: true, args);

    public async Task<ProcessResult> RunAsync(bool asUser, IReadOnlyList<string> args, IDictionary<string, string?>? env = null)
    {
        var (file, wrapped) = asUser ? TestUser.Wrap(ProbePath, args, env) : (ProbePath, args.ToList());
        return await ProcessRunner.RunAsync(file, wrapped, env: env, timeout: TimeSpan.FromMinutes(3));
    }

    /// <summary>A state dir the test user owns.</summary>
    public static string NewState() => TestUser.CreateOwnedTempDir("img-runtime-state");

    /// <summary>Runs a scenario and returns the probe's JSON result.</summary>
    public async Task<JsonNode> ScenarioAsync(bool asUser, string backend, string state, params object[] steps)
    {
        var scenario = new JsonObject
        {
            ["state"] = state, ["backend"] = backend, ["rootfs"] = Rootfs,
            ["steps"] = JsonSerializer.SerializeToNode(steps),
        };
        var file = Path.Combine(state, "scenario.json");
        await File.WriteAllTextAsync(file, scenario.ToJsonString());
        var r = await RunAsync(asUser, ["scenario", file]);
        r.EnsureSuccess("probe scenario");
        return JsonNode.Parse(r.Stdout)!;
    }

    /// <summary>A RUN step of a scenario.</summary>
    public static Dictionary<string, object?> Step(string script, string? user = null, string cwd = "/", string[]? env = null,
        object[]? mounts = null, int? cancelAfterMs = null) => new()
    {
        ["args"] = new[] { "/bin/sh", "-c", script },
        ["user"] = user, ["cwd"] = cwd, ["env"] = env ?? [], ["mounts"] = mounts ?? [], ["cancelAfterMs"] = cancelAfterMs,
    };
}

[CollectionDefinition("sandbox")]
public sealed class SandboxCollection : ICollectionFixture<SandboxFixture>;
