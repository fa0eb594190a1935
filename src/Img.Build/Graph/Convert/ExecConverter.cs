using System.Text;
using Img.Dockerfile;
using MountCacheSharing = Img.Dockerfile.CacheSharing;
using RunNetwork = Img.Runtime.Oci.RunNetwork;

namespace Img.Build.Graph.Convert;

/// <summary>
/// Assembles the exec op of a RUN: the argv after the shell form is applied, the step's environment (ENV, then ARGs,
/// then proxy build-args), working directory, user, network, and each <c>--mount</c> with the input it reads.
/// </summary>
internal static class ExecConverter
{
    private const uint CacheMode = 0b111_101_101;

    public static StepOp Convert(RunInstruction run, StepContext step)
    {
        var inputs = new InputList();
        inputs.Add(step.Root ?? SourceVertices.Scratch);
        var cwd = step.Config.Cwd;
        var mounts = run.Mounts.Select(m => Mount(m, cwd, inputs, step)).ToList();
        var options = step.Options;
        var platform = step.Config.Platform;
        var exec = new ExecOp(Argv(run, step.Config.EffectiveShell))
        {
            Env = step.Scope.RunEnvironment(),
            Cwd = cwd,
            User = step.Config.User,
            Network = Network(run.Network, options.Network, step.Line),
            // The same files run for another architecture are other work: FROM scratch stages share vertices across platforms.
            Platform = platform.Equals(options.BuildPlatform) ? null : platform,
            Mounts = mounts,
            ExtraHosts = options.ExtraHosts,
            ShmSizeBytes = options.ShmSizeBytes,
            Ulimits = options.Ulimits,
        };
        return new StepOp(exec, inputs.Vertices);
    }

    /// <summary>
    /// The process's argv. <c>RUN &lt;&lt;EOF</c> alone runs the body as the shell's script; a line that feeds
    /// heredocs to a command goes to the shell with each raw body and its terminator, as BuildKit reconstitutes it.
    /// </summary>
    private static IReadOnlyList<string> Argv(RunInstruction run, IReadOnlyList<string> shell)
    {
        if (run.Heredocs.Count == 0 || !run.Command.PrependShell)
            return ImageConfigRules.CommandArgs(run.Command, shell);
        var line = string.Join(' ', run.Command.Args);
        if (run.Heredocs.Count == 1 && HeredocSyntax.Parse(line.Trim()) is not null)
            return [.. shell, run.Heredocs[0].EffectiveContent];
        var script = new StringBuilder(line);
        foreach (var doc in run.Heredocs)
            script.Append('\n').Append(doc.Content).Append(doc.Name);
        return [.. shell, script.ToString()];
    }

    /// <summary><c>RUN --network</c> wins over the build's; <c>default</c> is the host network, as the original's.</summary>
    private static RunNetwork Network(string? mode, RunNetwork build, int line) => mode switch
    {
        null or "" => build,
        "default" or "host" => RunNetwork.Host,
        "none" => RunNetwork.None,
        _ => throw new DockerfileException($"network mode \"{mode}\" not supported", line),
    };

    private static ExecMount Mount(RunMount m, string cwd, InputList inputs, StepContext step)
    {
        var target = m.Target is { Length: > 0 } t ? Paths.Resolve(t, cwd) : null;
        var name = RunMountParser.TypeName(m.Type);
        string RequiredTarget() => target ?? throw new DockerfileException($"mount target must be set for {name} mounts", step.Line);
        int? From() => m.From is { Length: > 0 } from ? inputs.Add(step.Conversion.From(from, step.Stage, step.Line).Vertex) : null;
        return m.Type switch
        {
            MountType.Bind => new ExecMount(m.Type, RequiredTarget())
            {
                Input = From() ?? inputs.Add(step.Conversion.Sources.Context),
                Selector = "/" + SourcePattern.Clean(m.Source ?? ""),
                ReadOnly = m.ReadOnly,
            },
            MountType.Cache => new ExecMount(m.Type, RequiredTarget())
            {
                Id = m.Id is { Length: > 0 } id ? id : target,
                Input = From(),
                Selector = m.From is null ? "" : "/" + SourcePattern.Clean(m.Source ?? ""),
                ReadOnly = m.ReadOnly,
                Sharing = m.Sharing ?? MountCacheSharing.Shared,
                Uid = m.Uid,
                Gid = m.Gid,
                Mode = m.Uid is null && m.Gid is null && m.Mode is null ? null : m.Mode ?? CacheMode,
            },
            MountType.Tmpfs => new ExecMount(m.Type, RequiredTarget()) { SizeBytes = m.SizeBytes },
            MountType.Secret => Secret(m, target),
            _ => new ExecMount(m.Type, target ?? "") { Id = m.Id is { Length: > 0 } ssh ? ssh : "default", Required = m.Required, Mode = m.Mode, Uid = m.Uid, Gid = m.Gid },
        };
    }

    /// <summary>A secret's id defaults to its target's name (or its env); without a target or env it is a file in /run/secrets.</summary>
    private static ExecMount Secret(RunMount m, string? target)
    {
        var id = m.Id is { Length: > 0 } i ? i : target is not null ? Path.GetFileName(target) : m.Env ?? "";
        var path = target ?? (m.Env is null ? "/run/secrets/" + Path.GetFileName(id) : "");
        return new ExecMount(MountType.Secret, path) { Id = id, Env = m.Env, Required = m.Required, Uid = m.Uid, Gid = m.Gid, Mode = m.Mode };
    }
}
