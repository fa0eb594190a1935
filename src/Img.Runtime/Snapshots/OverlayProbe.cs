using Img.Runtime.Namespaces;

namespace Img.Runtime.Snapshots;

/// <summary>Tries a real two-lower overlay mount in the state dir, as containerd's overlay check does.</summary>
public static class OverlayProbe
{
    /// <summary>Null when kernel overlayfs mounts here, else why not.</summary>
    public static string? Kernel(string stateDir) => Try(stateDir, fuse: false);

    /// <summary>Null when fuse-overlayfs mounts here, else why not.</summary>
    public static string? Fuse(string stateDir)
    {
        if (UserNamespace.FindBinary("fuse-overlayfs") is null) return "fuse-overlayfs not found";
        try { using var _ = File.Open("/dev/fuse", FileMode.Open, FileAccess.ReadWrite); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return $"/dev/fuse is not usable: {e.Message}"; }
        return Try(stateDir, fuse: true);
    }

    private static string? Try(string stateDir, bool fuse)
    {
        var dir = Path.Combine(stateDir, "snapshots", $".probe-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            foreach (var d in new[] { "l1", "l2", "u", "w", "m" }) Directory.CreateDirectory(Path.Combine(dir, d));
            var options = new List<string>();
            if (!fuse && UserNamespace.InNestedNamespace) options.Add("userxattr");
            options.Add($"lowerdir={dir}/l1:{dir}/l2");
            options.Add($"upperdir={dir}/u");
            options.Add($"workdir={dir}/w");
            var target = Path.Combine(dir, "m");
            Mounter.MountAll([new Mount(fuse ? "fuse3.fuse-overlayfs" : "overlay", "overlay", options)], target);
            Mounter.Unmount(target);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return e.Message;
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
    }
}
