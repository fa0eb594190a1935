namespace Img.Runtime.Snapshots;

/// <summary>
/// Plain directories: a snapshot is a full copy of its parent's tree (reflinked where the filesystem
/// can, see <see cref="TreeCopier"/>). Works everywhere, costs space and time per step; the differ
/// compares <see cref="ISnapshotter.FsDir"/> of the snapshot against that of its parent.
/// </summary>
public sealed class NativeSnapshotter(string root, SnapshotterKind kind) : SnapshotterBase(root)
{
    /// <summary>A native store (<see cref="SnapshotterKind.Native"/>) at <paramref name="root"/>.</summary>
    public NativeSnapshotter(string root) : this(root, SnapshotterKind.Native) { }

    /// <inheritdoc/>
    public override SnapshotterKind Kind => kind;

    /// <inheritdoc/>
    public override bool RenamesLowerDirectories => true;

    /// <inheritdoc/>
    public override string? UpperDir(string key) => null;

    private protected override Task PopulateAsync(SnapshotInfo info, IReadOnlyList<SnapshotInfo> chain, CancellationToken ct) =>
        info.Kind == SnapshotKind.Active && chain.Count > 0
            ? TreeCopier.CopyAsync(FsDirOf(chain[0]), FsDirOf(info), ct)
            : Task.CompletedTask;

    /// <summary>
    /// Without mounts (no namespace, no CAP_SYS_ADMIN) a snapshot is used where it lies: an active one is its own
    /// directory, a view is its parent's (nothing keeps a view read-only there; img only reads views).
    /// </summary>
    public override string Attach(string key, string mountDir)
    {
        if (!Namespaces.Isolation.Current.WithoutMounts) return base.Attach(key, mountDir);
        var info = Table.Get(key);
        return info.Kind == SnapshotKind.View && info.Parent is { } parent ? FsDir(parent) : FsDirOf(info);
    }

    /// <inheritdoc/>
    public override void Detach(string path)
    {
        if (!Namespaces.Isolation.Current.WithoutMounts) base.Detach(path);
    }

    private protected override IReadOnlyList<Mount> MountsFor(SnapshotInfo info, IReadOnlyList<SnapshotInfo> chain) => info.Kind switch
    {
        SnapshotKind.Active => [new Mount("bind", FsDirOf(info), ["rbind", "rw"])],
        SnapshotKind.View when chain.Count > 0 => [new Mount("bind", FsDirOf(chain[0]), ["rbind", "ro"])],
        _ => [new Mount("bind", FsDirOf(info), ["rbind", "ro"])],
    };
}
