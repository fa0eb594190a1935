using Img.Dockerfile;
using Img.Oci;
using Img.Runtime.Oci;

namespace Img.Build;

/// <summary>WORKDIR assembled: the config's new working directory and the step that makes the directory, owned by the stage's USER.</summary>
internal static class WorkdirStep
{
    /// <summary>The config with <paramref name="wd"/>'s working directory, and the step that creates it.</summary>
    public static (ImageConfig Config, LayerStep Step) Assemble(StepInputs step, WorkdirInstruction wd)
    {
        var path = StepPaths.Clean(wd.Path.StartsWith('/') ? wd.Path : (step.Config.Config.WorkingDir ?? "/") + "/" + wd.Path);
        // As BuildKit: the config keeps an absolute path as written (WORKDIR /srv/app/ stays "/srv/app/"), a relative
        // one joined onto the current directory and cleaned; the directory made is the cleaned path either way.
        var configured = wd.Path.StartsWith('/') ? wd.Path : path;
        var user = step.Config.Config.User;
        var layer = new LayerStep("WORKDIR " + path, ["WORKDIR", path, user ?? ""], (dir, _) =>
        {
            (uint, uint)? owner = null;
            if (!string.IsNullOrEmpty(user))
            {
                try { var u = ExecUser.Resolve(dir, user); owner = (u.Uid, u.Gid); }
                catch (InvalidOperationException) { owner = null; }
            }
            FileCopier.MakeDirectories(dir, path, owner);
            return Task.CompletedTask;
        }, "WORKDIR " + configured);
        return (ConfigInstructions.WithWorkingDir(step.Config, configured), layer);
    }
}
