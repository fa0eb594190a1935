using System.Globalization;
using System.Text;
using Img.Dockerfile;
using Img.Oci;
using Img.Runtime.Emulation;
using Img.Runtime.Oci;

namespace Img.Build;

/// <summary>
/// RUN assembled: its argv, environment, user, working directory, network, the build-wide run options and its mounts,
/// each part of the cache key, and the change that runs the process in the step's rootfs.
/// </summary>
internal static class RunStep
{
    /// <summary>The step for <paramref name="run"/>, whose files run as <paramref name="platform"/>.</summary>
    public static async Task<LayerStep> AssembleAsync(StepInputs step, RunInstruction run, Platform platform, CancellationToken ct)
    {
        var request = step.Solver.Request;
        var argv = Args(run, step.Shell);
        var env = step.Scope.RunEnvironment();
        var user = step.Config.Config.User;
        var cwd = step.WorkingDir;
        // RUN --network wins over --network; the build's default (host) adds nothing, so existing keys stay.
        var networkMode = run.Network is { Length: > 0 } n ? n : request.Network == RunNetwork.None ? "none" : null;
        var keyParts = new List<string> { "RUN", string.Join('\0', argv), string.Join('\0', env), user ?? "", cwd, networkMode ?? "" };
        if (request.ExtraHosts.Count > 0) keyParts.Add("hosts " + string.Join(' ', request.ExtraHosts.Select(h => h.Name + "=" + h.Address)));
        if (request.ShmSizeBytes is { } shm) keyParts.Add(string.Create(CultureInfo.InvariantCulture, $"shm {shm}"));
        if (request.Ulimits.Count > 0) keyParts.Add("ulimits " + string.Join(' ', request.Ulimits.Select(u => $"{u.Name}={u.Soft}:{u.Hard}")));
        // The same files run on another architecture are another step (FROM scratch shares one key across platforms).
        if (!platform.Equals(Platform.Host)) keyParts.Add("platform " + platform);
        var network = Network(networkMode);
        var mounts = await RunMounts.AssembleAsync(step, run.Mounts, cwd, ct).ConfigureAwait(false);
        keyParts.AddRange(mounts.KeyParts);
        var spec = new RunSpec
        {
            RootFs = "", Args = argv, Env = env, SecretEnv = mounts.SecretEnv, Cwd = cwd, User = user, Network = network,
            ExtraHosts = request.ExtraHosts, ShmSizeBytes = request.ShmSizeBytes, Ulimits = request.Ulimits,
        };
        var history = "RUN " + HistoryText.RunCommand(argv, step.Scope.DeclaredArgs, step.Scope.ExpansionEnvironment()) + " # buildkit";
        return new LayerStep("mount / from exec " + string.Join(' ', argv), keyParts, async (rootfs, reporter) =>
        {
            // Fail with what to install rather than "exec format error" from inside the container.
            if (Emulators.WhyCannotRun(platform) is { } cannot) throw new BuildFailedException(cannot);
            await BindSources.WithMountedAsync(step.Solver, mounts.Binds, mounts.Mounts,
                all => ExecuteAsync(step, spec with { RootFs = rootfs, Mounts = all }, reporter, ct), ct).ConfigureAwait(false);
        }, history);
    }

    /// <summary>The process a RUN starts: exec form as written, shell form and heredocs through the stage's shell.</summary>
    private static List<string> Args(RunInstruction run, IReadOnlyList<string> shell)
    {
        if (run.Heredocs.Count > 0 && run.Command.PrependShell)
        {
            var line = string.Join(' ', run.Command.Args);
            // RUN <<EOF: the body is the script, run by the shell.
            if (run.Heredocs.Count == 1 && HeredocSyntax.Parse(line.Trim()) is not null)
                return [.. shell, run.Heredocs[0].EffectiveContent];
            // RUN <<-EOF sh, RUN cat <<A <<B …: as BuildKit, the line, each raw body and its terminator go to the
            // shell, which feeds the bodies to the command itself (and strips the tabs of <<- itself).
            var full = new StringBuilder(line);
            foreach (var doc in run.Heredocs) full.Append('\n').Append(doc.Content).Append(doc.Name);
            return [.. shell, full.ToString()];
        }
        return ImageConfigRules.CommandArgs(run.Command, shell);
    }

    private static RunNetwork Network(string? mode) => mode switch
    {
        null or "" or "default" or "host" => RunNetwork.Host, // the original's default is the host network
        "none" => RunNetwork.None,
        var other => throw new BuildFailedException($"network mode \"{other}\" not supported"),
    };

    /// <summary>Runs the process; a non-zero exit fails the step (an EXDEV rename on overlayfs asks for a run on a copy).</summary>
    private static async Task ExecuteAsync(StepInputs step, RunSpec spec, StepReporter reporter, CancellationToken ct)
    {
        var solver = step.Solver;
        var crossDevice = false;
        using var output = new LineStream(line =>
        {
            crossDevice |= LowerRenameFailedException.Reports(line);
            reporter.Log(line);
        });
        int code;
        solver.Request.Log?.Invoke($"{step.Label}: executor {solver.Runtime.Value.Describe}");
        try { code = await solver.Runtime.Value.RunAsync(spec, output, output, ct).ConfigureAwait(false); }
        catch (InvalidOperationException e) { throw new BuildFailedException(e.Message, e); }
        output.Flush();
        if (code == 0) return;
        var failed = $"process \"{string.Join(' ', spec.Args)}\" did not complete successfully: exit code: {code}";
        if (crossDevice && !solver.Snapshots.Snapshotter.RenamesLowerDirectories)
        {
            reporter.Log("[img] EXDEV renaming a lower-layer directory under overlayfs: running this step again on a copy");
            throw new LowerRenameFailedException(failed);
        }
        throw new BuildFailedException(failed);
    }
}
