using Img.Runtime.Oci;
using Img.Runtime.Snapshots;

namespace Img.Build;

/// <summary>
/// Reclaims what killed builds leave in a state directory: active snapshots and views, OCI bundles, runtime
/// states and mount directories. Only work whose process is gone goes, so it is safe beside running builds.
/// Call inside the user namespace (leftover mounts are detached and runtimes deleted from there).
/// </summary>
public sealed class StaleWork(string stateDir)
{
    private readonly string _stateDir = Path.GetFullPath(stateDir);

    /// <summary>
    /// Removes the leftovers of dead processes for every snapshot backend under <c>&lt;state&gt;/snapshots/</c>
    /// and returns how many entries went. Mount directories (<c>build-mounts/</c>) go only while no build holds
    /// <see cref="EnterBuild"/>: they record no owner of their own.
    /// </summary>
    public async Task<int> ReclaimAsync()
    {
        var stateDir = _stateDir;
        int removed = 0;
        var snapshots = Path.Combine(stateDir, "snapshots");
        if (Directory.Exists(snapshots))
            foreach (var dir in Directory.EnumerateDirectories(snapshots))
            {
                if (SnapshotterKind.FromName(Path.GetFileName(dir)) is not { } backend) continue;
                removed += backend.Open(stateDir).ReclaimStale();
            }
        removed += await OciRuntime.ReclaimStaleAsync(stateDir).ConfigureAwait(false);
        removed += ReclaimMountDirs(stateDir);
        return removed;
    }

    /// <summary>
    /// Marks a build as running until disposed (a shared lock on <c>&lt;state&gt;/build-mounts.lock</c>; the kernel
    /// drops it when the process dies), so no other process reclaims its mount directories.
    /// </summary>
    public IDisposable EnterBuild()
    {
        var path = LockPath(_stateDir);
        // The first thing a build creates may be the state directory itself: private, as LocalStore makes it.
        Directory.CreateDirectory(Path.GetDirectoryName(path)!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        // .NET takes flock(LOCK_SH|LOCK_NB) for a shared FileShare; a reclaimer holds LOCK_EX only for a moment.
        for (int attempt = 0; ; attempt++)
        {
            try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.Read, FileShare.ReadWrite); }
            catch (IOException) when (attempt < 200) { Thread.Sleep(25); }
        }
    }

    private static int ReclaimMountDirs(string stateDir)
    {
        var dir = Path.Combine(stateDir, "build-mounts");
        if (!Directory.Exists(dir)) return 0;
        FileStream exclusive;
        try { exclusive = new FileStream(LockPath(stateDir), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
        catch (IOException) { return 0; } // a build runs: its mount dirs cannot be told from a dead one's
        using (exclusive)
        {
            int removed = 0;
            foreach (var d in Directory.EnumerateDirectories(dir))
            {
                StaleMounts.DetachUnder(d);
                try { Img.Fs.FileTree.RemoveTree(d); removed++; }
                catch (IOException) { }
                catch (UnauthorizedAccessException) { }
            }
            return removed;
        }
    }

    private static string LockPath(string stateDir) => Path.Combine(stateDir, "build-mounts.lock");
}
