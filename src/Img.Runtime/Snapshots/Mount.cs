namespace Img.Runtime.Snapshots;

/// <summary>
/// How to mount a snapshot (containerd's mount.Mount): <c>overlay</c>, <c>fuse3.fuse-overlayfs</c> or <c>bind</c>.
/// </summary>
/// <param name="Type">The filesystem type.</param>
/// <param name="Source">The source path (<c>overlay</c> for overlays).</param>
/// <param name="Options">mount(8)-style options; for overlays, lowerdir/upperdir/workdir.</param>
/// <param name="WorkingDirectory">When set, lowerdir paths are relative to it (keeps long layer chains under the page-size option limit).</param>
public sealed record Mount(string Type, string Source, IReadOnlyList<string> Options, string? WorkingDirectory = null)
{
    /// <summary>True for a read-only mount.</summary>
    public bool ReadOnly => Options.Contains("ro");
}
