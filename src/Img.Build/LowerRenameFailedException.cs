namespace Img.Build;

/// <summary>
/// A RUN step failed with EXDEV ("Invalid cross-device link") on a snapshot that cannot rename directories
/// of its lower layers (kernel overlayfs in a user namespace has no redirect_dir). The step is run again on
/// a plain copy of its parent, where rename(2) works; see <see cref="SnapshotWork.CommitChangeAsync"/>. Where it
/// cannot run again, it is the step's failure.
/// </summary>
internal sealed class LowerRenameFailedException(string reason) : BuildFailedException(reason)
{
    /// <summary>True when a line of the step's output reports EXDEV (libc, Go and Node spell it differently).</summary>
    public static bool Reports(string line) => line.Contains("cross-device link", StringComparison.OrdinalIgnoreCase);
}
