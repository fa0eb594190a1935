using System.Diagnostics;
using Img.Runtime.Interop;

namespace Img.Runtime.Snapshots;

/// <summary>Performs and undoes <see cref="Mount"/>s (the caller must be root, in its own mount namespace when rootless).</summary>
public static class Mounter
{
    /// <summary>Mounts <paramref name="mounts"/> (in order) on <paramref name="target"/>, which must exist.</summary>
    public static void MountAll(IReadOnlyList<Mount> mounts, string target)
    {
        foreach (var m in mounts) MountOne(m, target);
    }

    /// <summary>Unmounts everything stacked on <paramref name="target"/>; a target that is not mounted is left alone.</summary>
    public static void Unmount(string target)
    {
        for (int i = 0; i < 16; i++)
        {
            if (Libc.Umount2(target, 0) == 0) continue;
            int errno = Libc.LastErrno();
            if (errno == 22 /* EINVAL: not a mount point */ || errno == 2 /* ENOENT */) return;
            if (errno == 16 /* EBUSY */ && Libc.Umount2(target, Libc.MNT_DETACH) == 0) continue;
            throw new IOException($"cannot unmount {target}: {Libc.LastError()}");
        }
    }

    private static void MountOne(Mount m, string target)
    {
        switch (m.Type)
        {
            case "bind":
                {
                    ulong flags = Libc.MS_BIND | (m.Options.Contains("rbind") ? Libc.MS_REC : 0);
                    if (Libc.Mount(m.Source, target, null, flags, null) != 0)
                        throw new IOException($"cannot bind-mount {m.Source} on {target}: {Libc.LastError()}");
                    if (m.ReadOnly && Libc.Mount(null, target, null, Libc.MS_BIND | Libc.MS_REMOUNT | Libc.MS_RDONLY, null) != 0)
                    {
                        var why = Libc.LastError();
                        Unmount(target);
                        throw new IOException($"cannot make {target} read-only: {why}");
                    }
                    break;
                }
            case "overlay":
                {
                    var data = string.Join(',', m.Options.Where(o => o != "ro" && o != "rw"));
                    ulong flags = m.ReadOnly ? Libc.MS_RDONLY : 0;
                    if (m.WorkingDirectory is null)
                    {
                        if (Libc.Mount("overlay", target, "overlay", flags, data) != 0)
                            throw new IOException($"cannot mount overlay on {target}: {Libc.LastError()}");
                    }
                    else
                    {
                        // Relative lowerdirs resolve against the mounting process's cwd; mount(8) in a child
                        // gets its own cwd without changing this multi-threaded process's.
                        RunTool("mount", ["-t", "overlay", "overlay", "-o", string.Join(',', m.Options), target], m.WorkingDirectory);
                    }
                    break;
                }
            case "fuse3.fuse-overlayfs":
                RunTool("fuse-overlayfs", ["-o", string.Join(',', m.Options), target], m.WorkingDirectory);
                break;
            default:
                throw new NotSupportedException($"unknown mount type {m.Type}");
        }
    }

    private static void RunTool(string tool, IReadOnlyList<string> args, string? cwd)
    {
        var path = Namespaces.UserNamespace.FindBinary(tool) ?? throw new IOException($"{tool} not found");
        var psi = new ProcessStartInfo(path) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        if (cwd is not null) psi.WorkingDirectory = cwd;
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new IOException($"cannot start {tool}");
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEndAsync();
        p.WaitForExit();
        if (p.ExitCode == 0) return;
        // The tool's last words, not its whole command line (the options name every layer directory).
        var said = (err.Result + output.Result).Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith("unknown argument ignored", StringComparison.Ordinal)).ToList();
        var why = said.Count == 0 ? $"exit status {p.ExitCode}" : string.Join("; ", said.TakeLast(2));
        if (tool == "fuse-overlayfs" && why.Contains("/dev/fuse", StringComparison.Ordinal))
            why += ": /dev/fuse is not open to this user (docker run --device /dev/fuse, or a /dev/fuse the user may open), or use -b native";
        throw new IOException($"cannot mount {args[^1]} with {tool}: {why}");
    }
}
