namespace Img.Runtime.Snapshots;

/// <summary>Chooses the snapshot store of <c>-b/--backend</c>.</summary>
public static class Snapshotters
{
    /// <summary>
    /// The store to use: an explicit kind as is; for <c>auto</c>, overlayfs if a probe mount in
    /// <paramref name="stateDir"/> works (call inside the namespace), else fuse-overlayfs, else native.
    /// </summary>
    /// <exception cref="ArgumentException">The kind mounts and nothing can be mounted here.</exception>
    public static SnapshotterKind Resolve(BackendChoice backend, string stateDir)
    {
        if (Namespaces.Isolation.Current.WithoutMounts)
        {
            // Nothing can be mounted: snapshots are plain directories, layers come from tree diffs.
            if (backend.Kind is null || backend.Kind == SnapshotterKind.Native)
                return Namespaces.Isolation.Current.RecordsOwners ? SnapshotterKind.RecordedNative : SnapshotterKind.Native;
            throw new ArgumentException($"the {backend} backend mounts, which cannot be done here ({Namespaces.Isolation.Current.Why}): use -b native or auto");
        }
        if (backend.Kind is { } kind) return kind;
        if (OverlayProbe.Kernel(stateDir) is null) return SnapshotterKind.Overlay;
        if (OverlayProbe.Fuse(stateDir) is null) return SnapshotterKind.FuseOverlay;
        return SnapshotterKind.Native;
    }
}
