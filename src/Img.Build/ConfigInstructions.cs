using Img.Dockerfile;
using Img.Oci;
using OciHealth = Img.Oci.HealthConfig;

namespace Img.Build;

/// <summary>What a config-only instruction sees besides the config: the stage's environment, shell and whether it set CMD.</summary>
/// <param name="Env">The stage's config environment after the instruction (ENV writes it whole).</param>
/// <param name="Shell">The shell CMD and ENTRYPOINT in shell form run under.</param>
/// <param name="CmdSet">Whether this stage has set CMD already (ENTRYPOINT then keeps it).</param>
/// <param name="Created">The history time of the filesystem the instruction sees.</param>
internal sealed record ConfigInputs(IReadOnlyList<string> Env, IReadOnlyList<string> Shell, bool CmdSet, DateTimeOffset? Created);

/// <summary>
/// The config-only instructions (ENV, ARG, LABEL, EXPOSE, VOLUME, USER, STOPSIGNAL, MAINTAINER, ONBUILD, SHELL, CMD,
/// ENTRYPOINT, HEALTHCHECK) as pure functions: each returns a new config with the change and its empty-layer history
/// entry, the one it was given stays as it was.
/// </summary>
internal static class ConfigInstructions
{
    /// <summary>The comment BuildKit's Dockerfile frontend puts on every history entry.</summary>
    public const string HistoryComment = "buildkit.dockerfile.v0";

    /// <summary>True for the instructions <see cref="Apply"/> knows.</summary>
    public static bool Handles(Instruction ins) => ins is EnvInstruction or ArgInstruction or LabelInstruction or ExposeInstruction
        or VolumeInstruction or UserInstruction or StopSignalInstruction or MaintainerInstruction or OnbuildInstruction
        or ShellInstruction or CmdInstruction or EntrypointInstruction or HealthcheckInstruction;

    /// <summary>The config after <paramref name="ins"/>, with its history entry.</summary>
    public static ImageConfig Apply(ImageConfig before, Instruction ins, ConfigInputs inputs)
    {
        var config = before.Copy();
        var history = Change(config, config.Config, ins, inputs);
        Append(config, history, inputs.Created, emptyLayer: true);
        return config;
    }

    /// <summary>The config with one more history entry (a filesystem step's, <paramref name="emptyLayer"/> when it changed nothing).</summary>
    public static ImageConfig WithHistory(ImageConfig before, string createdBy, DateTimeOffset? created, bool emptyLayer)
    {
        var config = before.Copy();
        Append(config, createdBy, created, emptyLayer);
        return config;
    }

    /// <summary>The config with another working directory (WORKDIR's change to the config; its directory is a layer step).</summary>
    public static ImageConfig WithWorkingDir(ImageConfig before, string workingDir)
    {
        var config = before.Copy();
        config.Config.WorkingDir = workingDir;
        return config;
    }

    // Null (scratch, nothing written yet) is filled in when the image is written.
    private static void Append(ImageConfig config, string createdBy, DateTimeOffset? created, bool emptyLayer) =>
        (config.History ??= []).Add(new History { Created = created, CreatedBy = createdBy, Comment = HistoryComment, EmptyLayer = emptyLayer });

    /// <summary>Changes the copy <paramref name="config"/> as <paramref name="ins"/> says; returns the history text.</summary>
    private static string Change(ImageConfig config, ContainerConfig c, Instruction ins, ConfigInputs inputs)
    {
        switch (ins)
        {
            case EnvInstruction:
                c.Env = [.. inputs.Env];
                break;
            case LabelInstruction label:
                c.Labels ??= new SortedDictionary<string, string>(StringComparer.Ordinal);
                foreach (var kv in label.Labels) c.Labels[kv.Key] = kv.Value;
                break;
            case ExposeInstruction expose:
                c.ExposedPorts ??= new SortedDictionary<string, EmptyObject>(StringComparer.Ordinal);
                foreach (var p in expose.Ports.SelectMany(PortSpec.Parse)) c.ExposedPorts[p] = EmptyObject.Instance;
                break;
            case VolumeInstruction volume:
                c.Volumes ??= new SortedDictionary<string, EmptyObject>(StringComparer.Ordinal);
                foreach (var v in volume.Volumes) c.Volumes[v] = EmptyObject.Instance;
                break;
            case UserInstruction user:
                c.User = user.User;
                break;
            case StopSignalInstruction stop:
                c.StopSignal = stop.Signal;
                break;
            case MaintainerInstruction m:
                config.Author = m.Maintainer;
                break;
            case OnbuildInstruction onbuild:
                (c.OnBuild ??= []).Add(onbuild.Expression);
                break;
            case ShellInstruction shell:
                c.Shell = [.. shell.Shell];
                break;
            case HealthcheckInstruction hc:
                c.Healthcheck = new OciHealth
                {
                    Test = [.. hc.Health.Test],
                    Interval = hc.Health.Interval.Ticks * 100,
                    Timeout = hc.Health.Timeout.Ticks * 100,
                    StartPeriod = hc.Health.StartPeriod.Ticks * 100,
                    StartInterval = hc.Health.StartInterval.Ticks * 100,
                    Retries = hc.Health.Retries,
                };
                break;
            case CmdInstruction cmd:
                c.Cmd = ImageConfigRules.CommandArgs(cmd.Command, inputs.Shell);
                return HistoryText.Command("CMD", c.Cmd);
            case EntrypointInstruction ep:
                c.Entrypoint = ImageConfigRules.CommandArgs(ep.Command, inputs.Shell);
                c.Cmd = ImageConfigRules.CmdAfterEntrypoint(c.Cmd, inputs.CmdSet)?.ToList();
                return HistoryText.Command("ENTRYPOINT", c.Entrypoint);
            case ArgInstruction:
                break;
            default:
                throw new ArgumentException($"{ins.Name} does not only change the config", nameof(ins));
        }
        return HistoryText.ConfigChange(ins);
    }
}
