using Img.Dockerfile;

namespace Img.Build.Graph.Convert;

/// <summary>
/// The instructions that change only the image config (ENV, ARG, LABEL, USER, CMD …), as pure functions: an expanded
/// instruction and the config before it give the config after it, with the history entry BuildKit writes
/// (<see cref="HistoryText"/> spells it for both builds, an empty layer).
/// </summary>
internal static class ConfigInstructions
{
    /// <summary>Null when <paramref name="instruction"/> is not a config instruction.</summary>
    public static StageConfig? Apply(StageConfig c, Instruction instruction, StageScope scope)
    {
        var changed = instruction switch
        {
            EnvInstruction => c with { Env = [.. scope.ConfigEnv] },
            ArgInstruction => c,
            LabelInstruction label => c with { Labels = c.Labels.SetItems(label.Labels.Select(kv => KeyValuePair.Create(kv.Key, kv.Value))) },
            ExposeInstruction expose => c with { ExposedPorts = c.ExposedPorts.Union(expose.Ports.SelectMany(PortSpec.Parse)) },
            VolumeInstruction volume => c with { Volumes = c.Volumes.Union(volume.Volumes) },
            UserInstruction user => c with { User = user.User },
            StopSignalInstruction stop => c with { StopSignal = stop.Signal },
            MaintainerInstruction m => c with { Author = m.Maintainer },
            OnbuildInstruction onbuild => c with { OnBuild = [.. c.OnBuild, onbuild.Expression] },
            ShellInstruction shell => c with { Shell = [.. shell.Shell] },
            HealthcheckInstruction hc => c with { Healthcheck = hc.Health },
            CmdInstruction cmd => c with { Cmd = ImageConfigRules.CommandArgs(cmd.Command, c.EffectiveShell), CmdSet = true },
            // ENTRYPOINT resets an inherited CMD, not one this stage set (docker's rule).
            EntrypointInstruction ep => c with
            {
                Entrypoint = ImageConfigRules.CommandArgs(ep.Command, c.EffectiveShell),
                Cmd = ImageConfigRules.CmdAfterEntrypoint(c.Cmd, c.CmdSet),
            },
            _ => null,
        };
        return changed?.WithHistory(instruction switch
        {
            CmdInstruction => HistoryText.Command("CMD", changed.Cmd!),
            EntrypointInstruction => HistoryText.Command("ENTRYPOINT", changed.Entrypoint!),
            _ => HistoryText.ConfigChange(instruction),
        });
    }
}
