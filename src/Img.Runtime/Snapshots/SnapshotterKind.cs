namespace Img.Runtime.Snapshots;

/// <summary>
/// A kind of snapshot store, chosen once per command: its <see cref="Name"/> is the directory under
/// <c>&lt;state&gt;/snapshots/</c> and the prefix of the snapshot references in cache records, so stores of
/// different kinds never read each other's snapshots.
/// </summary>
public sealed class SnapshotterKind
{
    private readonly Func<string, ISnapshotter> _open;

    private SnapshotterKind(string name, Func<string, ISnapshotter> open)
    {
        Name = name;
        _open = open;
    }

    /// <summary>Plain directories, full copies (<c>-b native</c>); image owners on disk.</summary>
    public static SnapshotterKind Native { get; } = new("native", root => new NativeSnapshotter(root, Native!));

    /// <summary>
    /// The native store of the proot rung as an ordinary user: its files are all that user's and their image owners
    /// are in records (<see cref="Img.Fs.OwnerRecord"/>), so it is kept apart from <see cref="Native"/>, whose files
    /// carry their owners on disk; neither rung ever reads the other's.
    /// </summary>
    public static SnapshotterKind RecordedNative { get; } = new("native-recorded", root => new NativeSnapshotter(root, RecordedNative!));

    /// <summary>Kernel overlayfs (<c>-b overlayfs</c>).</summary>
    public static SnapshotterKind Overlay { get; } = new("overlayfs", root => new OverlaySnapshotter(root));

    /// <summary>fuse-overlayfs (<c>-b fuse-overlayfs</c>).</summary>
    public static SnapshotterKind FuseOverlay { get; } = new("fuse-overlayfs", OverlaySnapshotter.Fuse);

    /// <summary>Every kind, in the order a store directory listing is read.</summary>
    public static IReadOnlyList<SnapshotterKind> All { get; } = [Native, Overlay, FuseOverlay, RecordedNative];

    public string Name { get; }

    /// <summary>The kind whose store directory (or record prefix) is <paramref name="name"/>; null for none.</summary>
    public static SnapshotterKind? FromName(string name) => All.FirstOrDefault(k => k.Name == name);

    /// <summary>Opens this kind's store at <c>&lt;state&gt;/snapshots/&lt;name&gt;</c>.</summary>
    public ISnapshotter Open(string stateDir) => _open(Path.Combine(stateDir, "snapshots", Name));

    public override string ToString() => Name;
}

/// <summary>What <c>-b/--backend</c> asks for: <c>auto</c> (resolved by <see cref="Snapshotters.Resolve"/>), or one kind.</summary>
public sealed record BackendChoice(SnapshotterKind? Kind)
{
    public static BackendChoice Auto { get; } = new((SnapshotterKind?)null);

    /// <summary>The names <c>--backend</c> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = ["auto", "native", "overlayfs", "fuse-overlayfs"];

    /// <exception cref="ArgumentException">Not a backend name; the message is the original's.</exception>
    public static BackendChoice Parse(string name) =>
        name == "auto" ? Auto
        : Names.Contains(name) ? new BackendChoice(SnapshotterKind.FromName(name))
        : throw new ArgumentException($"{name} is not a valid snapshots backend");

    public override string ToString() => Kind?.Name ?? "auto";
}
