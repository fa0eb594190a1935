using Img.Fs;
using Img.Runtime.Interop;
using Img.Runtime.Namespaces;

namespace Img.Runtime.Snapshots;

/// <summary>What <c>auto</c> resolves to, and why the faster backends were passed over.</summary>
/// <param name="Backend">overlayfs, fuse-overlayfs or native.</param>
/// <param name="OverlayRefusal">Why kernel overlayfs did not mount, or null.</param>
/// <param name="FuseRefusal">Why fuse-overlayfs did not mount, or null (also null when it was not needed).</param>
public sealed record AutoBackend(string Backend, string? OverlayRefusal, string? FuseRefusal);

/// <summary>
/// Resolves <c>auto</c> as <see cref="Snapshotters.Resolve"/> does, from outside img's namespace (for <c>img info</c>):
/// the same overlay mounts, made by <c>mount</c> and <c>fuse-overlayfs</c> in a throw-away user and mount namespace,
/// in a directory on the state dir's file system.
/// </summary>
public static class AutoBackendProbe
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    /// <summary>The answer when the state directory cannot be written: no backend can work there.</summary>
    public const string Unwritable = "none (state directory not writable)";

    /// <summary>Probes next to <paramref name="stateDir"/> (or in the temp dir while it does not exist yet).</summary>
    public static AutoBackend Probe(string stateDir)
    {
        var parent = Directory.Exists(stateDir) ? stateDir : Path.GetTempPath();
        var dir = Path.Combine(parent, $".probe-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            try
            {
                foreach (var d in new[] { "l1", "l2", "u", "w", "m", "fu", "fw" }) Directory.CreateDirectory(Path.Combine(dir, d));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return new AutoBackend(Unwritable, $"cannot write in {parent}: {e.Message}", null);
            }
            bool nested = Libc.Geteuid() != 0;
            var overlay = Mount(dir, nested,
                $"mount -t overlay overlay -o {(nested ? "userxattr," : "")}lowerdir={dir}/l1:{dir}/l2,upperdir={dir}/u,workdir={dir}/w {dir}/m");
            if (overlay is null) return new AutoBackend("overlayfs", null, null);
            var fuse = FuseRefusal(dir, nested);
            return new AutoBackend(fuse is null ? "fuse-overlayfs" : "native", overlay, fuse);
        }
        finally
        {
            try { FileTree.RemoveTree(dir); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }

    private static string? FuseRefusal(string dir, bool nested)
    {
        if (UserNamespace.FindBinary("fuse-overlayfs") is null) return "fuse-overlayfs not found";
        try { using var _ = File.Open("/dev/fuse", FileMode.Open, FileAccess.ReadWrite); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return $"/dev/fuse is not usable: {e.Message}"; }
        return Mount(dir, nested,
            $"fuse-overlayfs -o lowerdir={dir}/l1:{dir}/l2,upperdir={dir}/fu,workdir={dir}/fw {dir}/m && umount {dir}/m");
    }

    /// <summary>Runs <paramref name="script"/> in a new mount namespace (and user namespace when not root); null when it worked.</summary>
    private static string? Mount(string dir, bool nested, string script)
    {
        if (dir.Any(c => c is ' ' or '\'' or '"' or '\\' or '$' or '`' or ',' or ':')) return $"cannot probe in {dir}: the path has characters a mount option cannot hold";
        var unshare = UserNamespace.FindBinary("unshare");
        if (unshare is null) return "unshare not found: install the util-linux package";
        var args = new List<string>();
        if (nested) args.AddRange(["--user", "--map-root-user"]);
        args.AddRange(["--mount", "--propagation", "private", "sh", "-c", script]);
        var r = ProbeProcess.Run(unshare, args, Timeout);
        return r.Succeeded ? null : r.Why;
    }
}
