using Img.Runtime.Namespaces;

namespace Img.Runtime.Snapshots;

/// <summary>
/// Kernel overlayfs (or fuse-overlayfs): O(1) snapshots. Each snapshot owns <c>fs</c> (its upper layer,
/// a lower layer once committed) and <c>work</c>; a mount stacks the committed parents' <c>fs</c> dirs.
/// In a user namespace the mount uses <c>userxattr</c>, which rules out <c>redirect_dir</c>: renaming a
/// directory that exists only in a lower layer fails with EXDEV there.
/// </summary>
public sealed class OverlaySnapshotter : SnapshotterBase
{
    // mount(2) copies at most one page of options; keep a margin below 4096.
    private const int MaxOptionBytes = 3800;
    private readonly bool _fuse;
    private readonly bool _userXattr;

    /// <summary>Kernel overlayfs rooted at <paramref name="root"/>.</summary>
    public OverlaySnapshotter(string root) : this(root, fuse: false) { }

    private OverlaySnapshotter(string root, bool fuse) : base(root)
    {
        _fuse = fuse;
        _userXattr = !fuse && UserNamespace.InNestedNamespace;
    }

    /// <summary>fuse-overlayfs rooted at <paramref name="root"/>.</summary>
    public static OverlaySnapshotter Fuse(string root) => new(root, fuse: true);

    /// <inheritdoc/>
    public override SnapshotterKind Kind => _fuse ? SnapshotterKind.FuseOverlay : SnapshotterKind.Overlay;

    /// <inheritdoc/>
    public override bool RenamesLowerDirectories => _fuse || !_userXattr;

    /// <inheritdoc/>
    public override string? UpperDir(string key) => FsDir(key);

    private protected override void CreateLayout(SnapshotInfo info) =>
        Directory.CreateDirectory(Path.Combine(Table.DirOf(info.Id), "work"));

    private protected override IReadOnlyList<Mount> MountsFor(SnapshotInfo info, IReadOnlyList<SnapshotInfo> chain)
    {
        var lowers = info.Kind == SnapshotKind.Committed ? chain.Prepend(info).ToList() : chain.ToList();
        if (info.Kind == SnapshotKind.Active)
        {
            if (lowers.Count == 0) return [new Mount("bind", FsDirOf(info), ["rbind", "rw"])];
            return [Overlay(lowers, info)];
        }
        if (lowers.Count == 0) return [new Mount("bind", FsDirOf(info), ["rbind", "ro"])];
        if (lowers.Count == 1) return [new Mount("bind", FsDirOf(lowers[0]), ["rbind", "ro"])];
        return [Overlay(lowers, upper: null)];
    }

    private Mount Overlay(IReadOnlyList<SnapshotInfo> lowers, SnapshotInfo? upper)
    {
        var absolute = Options(lowers, upper, s => FsDirOf(s), s => Path.Combine(Table.DirOf(s.Id), "work"));
        if (absolute.Sum(o => o.Length + 1) <= MaxOptionBytes) return Build(absolute);
        // Long chains: paths relative to the snapshots dir ("<id>/fs", 16 bytes a layer) fit ~230 layers.
        var relative = Options(lowers, upper, s => s.Id + "/fs", s => s.Id + "/work");
        if (relative.Sum(o => o.Length + 1) > MaxOptionBytes)
            throw new InvalidOperationException($"too many layers to mount ({lowers.Count}): the overlay option string exceeds a page");
        return Build(relative, Table.SnapshotsDir);

        Mount Build(List<string> options, string? cwd = null) =>
            new(_fuse ? "fuse3.fuse-overlayfs" : "overlay", "overlay", options, cwd);
    }

    private List<string> Options(IReadOnlyList<SnapshotInfo> lowers, SnapshotInfo? upper, Func<SnapshotInfo, string> fs, Func<SnapshotInfo, string> work)
    {
        var o = new List<string>();
        if (_userXattr) o.Add("userxattr");
        o.Add("lowerdir=" + string.Join(':', lowers.Select(fs)));
        if (upper is not null)
        {
            o.Add("upperdir=" + fs(upper));
            o.Add("workdir=" + work(upper));
        }
        else o.Add("ro");
        return o;
    }
}
