using Img.Dockerfile;

namespace Img.Build.Graph.Convert;

/// <summary>
/// The instructions that change only the image config (ENV, ARG, LABEL, USER, CMD …), as pure functions: an expanded
/// instruction and the config before it give the config after it, with the history entry BuildKit writes
/// (<see cref="HistoryText"/>'s spelling, an empty layer).
/// </summary>
internal static class ConfigInstructions
{
    /// <summary>Null when <paramref name="instruction"/> is not a config instruction.</summary>
    public static StageConfig? Apply(StageConfig c, Instruction instruction, StageScope scope) => instruction switch
    {
        EnvInstruction env => (c with { Env = [.. scope.ConfigEnv] })
            .WithHistory("ENV " + string.Join(' ', env.Env.Select(kv => kv.Key + "=" + kv.Value))),
        ArgInstruction arg => c.WithHistory("ARG " + string.Join(' ', arg.Args.Select(a => a.Value is null ? a.Key : a.Key + "=" + a.Value))),
        LabelInstruction label => (c with { Labels = c.Labels.SetItems(label.Labels.Select(kv => KeyValuePair.Create(kv.Key, kv.Value))) })
            .WithHistory("LABEL " + string.Join(' ', label.Labels.Select(kv => kv.Key + "=" + kv.Value))),
        ExposeInstruction expose => Expose(c, [.. expose.Ports.SelectMany(PortSpec.Parse)]),
        VolumeInstruction volume => (c with { Volumes = c.Volumes.Union(volume.Volumes) })
            .WithHistory("VOLUME [" + string.Join(' ', volume.Volumes) + "]"),
        UserInstruction user => (c with { User = user.User }).WithHistory("USER " + user.User),
        StopSignalInstruction stop => (c with { StopSignal = stop.Signal }).WithHistory("STOPSIGNAL " + stop.Signal),
        MaintainerInstruction m => (c with { Author = m.Maintainer }).WithHistory("MAINTAINER " + m.Maintainer),
        OnbuildInstruction onbuild => (c with { OnBuild = [.. c.OnBuild, onbuild.Expression] }).WithHistory("ONBUILD " + onbuild.Expression),
        ShellInstruction shell => (c with { Shell = [.. shell.Shell] }).WithHistory("SHELL [" + string.Join(' ', shell.Shell) + "]"),
        CmdInstruction cmd => Cmd(c, ImageConfigRules.CommandArgs(cmd.Command, c.EffectiveShell)),
        EntrypointInstruction ep => Entrypoint(c, ImageConfigRules.CommandArgs(ep.Command, c.EffectiveShell)),
        HealthcheckInstruction hc => (c with { Healthcheck = hc.Health }).WithHistory("HEALTHCHECK " + string.Join(' ', hc.Health.Test)),
        _ => null,
    };

    private static StageConfig Expose(StageConfig c, IReadOnlyList<string> ports) =>
        (c with { ExposedPorts = c.ExposedPorts.Union(ports) }).WithHistory(HistoryText.Expose(ports));

    private static StageConfig Cmd(StageConfig c, IReadOnlyList<string> cmd) =>
        (c with { Cmd = cmd, CmdSet = true }).WithHistory("CMD [" + string.Join(' ', cmd.Select(Quote)) + "]");

    /// <summary>ENTRYPOINT resets an inherited CMD, not one this stage set (docker's rule).</summary>
    private static StageConfig Entrypoint(StageConfig c, IReadOnlyList<string> entrypoint) =>
        (c with { Entrypoint = entrypoint, Cmd = ImageConfigRules.CmdAfterEntrypoint(c.Cmd, c.CmdSet) })
            .WithHistory("ENTRYPOINT [" + string.Join(' ', entrypoint.Select(Quote)) + "]");

    private static string Quote(string s) =>
        "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
