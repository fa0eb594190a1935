namespace Img.Runtime.Snapshots;

/// <summary>
/// containerd's snapshot API in small. A snapshot is prepared (writable, on top of a committed parent
/// chain), mounted, written, unmounted and committed under a name that later snapshots use as parent.
/// </summary>
public interface ISnapshotter
{
    /// <summary>The kind of store: overlayfs, fuse-overlayfs, native (or native with recorded owners).</summary>
    SnapshotterKind Kind { get; }

    /// <summary>The backend's root directory (<c>&lt;state&gt;/snapshots/&lt;backend&gt;</c>).</summary>
    string Root { get; }

    /// <summary>
    /// False when renaming a directory that exists only in a lower layer fails with EXDEV
    /// (kernel overlayfs in a user namespace cannot use redirect_dir). Tools such as mv fall back
    /// to copying; programs that call rename(2) on such directories fail.
    /// </summary>
    bool RenamesLowerDirectories { get; }

    /// <summary>A new writable snapshot <paramref name="key"/> over committed <paramref name="parent"/>; returns how to mount it.</summary>
    Task<IReadOnlyList<Mount>> PrepareAsync(string key, string? parent, CancellationToken ct = default);

    /// <summary>A new read-only view <paramref name="key"/> of committed <paramref name="parent"/>.</summary>
    Task<IReadOnlyList<Mount>> ViewAsync(string key, string? parent, CancellationToken ct = default);

    /// <summary>How to mount an existing snapshot (committed ones mount read-only).</summary>
    IReadOnlyList<Mount> Mounts(string key);

    /// <summary>Turns active snapshot <paramref name="key"/> (unmounted) into committed snapshot <paramref name="name"/>.</summary>
    Task<SnapshotInfo> CommitAsync(string name, string key, CancellationToken ct = default);

    /// <summary>Deletes a snapshot that no other snapshot uses as parent.</summary>
    Task RemoveAsync(string key, CancellationToken ct = default);

    /// <summary>
    /// Removes active snapshots and views whose creating process no longer runs (a killed build's), and snapshot
    /// directories the table does not name; returns how many directories went. Committed snapshots stay.
    /// </summary>
    int ReclaimStale();

    /// <summary>The snapshot's record, or null.</summary>
    SnapshotInfo? Stat(string key);

    /// <summary>All snapshots.</summary>
    IReadOnlyList<SnapshotInfo> List();

    /// <summary>Bytes the snapshot's own directory holds (for overlay: its layer only).</summary>
    long Usage(string key);

    /// <summary>
    /// The snapshot's own directory: the whole tree for <c>native</c> (diff it against the parent's
    /// <see cref="FsDir"/>), the upper layer for the overlay backends.
    /// </summary>
    string FsDir(string key);

    /// <summary>The overlay upper directory (whiteouts as 0:0 char devices, opaque dirs by xattr) or null for <c>native</c>.</summary>
    string? UpperDir(string key);

    /// <summary>
    /// Makes the snapshot usable as a tree and returns its path: mounted on <paramref name="mountDir"/> (an existing
    /// directory), or, where nothing may be mounted (<see cref="Namespaces.Isolation.WithoutMounts"/>), the native
    /// backend's own directory. Undo with <see cref="Detach"/>.
    /// </summary>
    string Attach(string key, string mountDir);

    /// <summary>Undoes <see cref="Attach"/> (<paramref name="path"/> is what it returned).</summary>
    void Detach(string path);

    /// <summary>Mounts the snapshot on <paramref name="target"/> (an existing directory).</summary>
    void Mount(string key, string target) => Mounter.MountAll(Mounts(key), target);

    /// <summary>Unmounts <paramref name="target"/>.</summary>
    void Unmount(string target) => Mounter.Unmount(target);
}
