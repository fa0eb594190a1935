namespace Img.Runtime.Snapshots;

/// <summary>Chooses and opens a snapshot backend (<c>-b/--backend</c>).</summary>
public static class Snapshotters
{
    /// <summary>The names <c>--backend</c> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = ["auto", "native", "overlayfs", "fuse-overlayfs"];

    /// <summary>
    /// The native store of the proot rung as an ordinary user: its files are all that user's and their image owners
    /// are in records (<see cref="Img.Fs.OwnerRecord"/>), so its snapshots and cache records are kept apart from
    /// <c>native</c>'s, whose files carry their owners on disk; neither rung ever reads the other's.
    /// </summary>
    public const string RecordedNative = "native-recorded";

    /// <summary>True for a directory name under <c>snapshots/</c> that holds a snapshot store (a backend, or <see cref="RecordedNative"/>).</summary>
    public static bool IsStore(string name) => name is "native" or "overlayfs" or "fuse-overlayfs" or RecordedNative;

    /// <summary>Throws the original's error for a name that is not a backend.</summary>
    public static void Validate(string backend)
    {
        if (!Names.Contains(backend)) throw new ArgumentException($"{backend} is not a valid snapshots backend");
    }

    /// <summary>
    /// The backend to use: an explicit name as is; for <c>auto</c>, overlayfs if a probe mount in
    /// <paramref name="stateDir"/> works (call inside the namespace), else fuse-overlayfs, else native.
    /// </summary>
    public static string Resolve(string backend, string stateDir)
    {
        Validate(backend);
        if (Namespaces.Isolation.Current.WithoutMounts)
        {
            // Nothing can be mounted: snapshots are plain directories, layers come from tree diffs.
            if (backend is "auto" or "native") return Namespaces.Isolation.Current.RecordsOwners ? RecordedNative : "native";
            throw new ArgumentException($"the {backend} backend mounts, which cannot be done here ({Namespaces.Isolation.Current.Why}): use -b native or auto");
        }
        if (backend != "auto") return backend;
        if (OverlayProbe.Kernel(stateDir) is null) return "overlayfs";
        if (OverlayProbe.Fuse(stateDir) is null) return "fuse-overlayfs";
        return "native";
    }

    /// <summary>Opens backend <paramref name="backend"/> (resolved, not <c>auto</c>) at <c>&lt;state&gt;/snapshots/&lt;backend&gt;</c>.</summary>
    public static ISnapshotter Open(string backend, string stateDir)
    {
        var root = Path.Combine(stateDir, "snapshots", backend);
        return backend switch
        {
            "overlayfs" => new OverlaySnapshotter(root),
            "fuse-overlayfs" => OverlaySnapshotter.Fuse(root),
            "native" or RecordedNative => new NativeSnapshotter(root),
            "auto" => throw new ArgumentException("resolve the auto backend first (Snapshotters.Resolve)"),
            _ => throw new ArgumentException($"{backend} is not a valid snapshots backend"),
        };
    }
}
