using System.Runtime.InteropServices;

namespace Img.Build;

/// <summary>
/// Directories kernel overlayfs copied up only because something was created and removed in them (the
/// runtime's mount stub for /etc/hosts in an image without one, a temporary file) stay in the upper layer
/// empty and identical to their lower copy. Docker's layers list changed paths only, so these are removed
/// from the upper (unmounted) before its layer is written.
/// </summary>
internal static partial class CopiedUpDirectories
{
    private static readonly string[] OpaqueXattrs = ["user.overlay.opaque", "trusted.overlay.opaque"];

    /// <summary>Prunes <paramref name="upper"/> against <paramref name="lowers"/> (nearest first).</summary>
    public static void Prune(string upper, IReadOnlyList<string> lowers)
    {
        foreach (var child in Directory.EnumerateDirectories(upper))
            Visit(upper, Path.GetFileName(child), lowers);
    }

    private static void Visit(string upper, string rel, IReadOnlyList<string> lowers)
    {
        var full = Path.Combine(upper, rel);
        if (Posix.TryLstat(full) is not { IsDirectory: true } stat) return;
        foreach (var child in Directory.EnumerateDirectories(full))
            Visit(upper, Path.Combine(rel, Path.GetFileName(child)), lowers);
        if (Directory.EnumerateFileSystemEntries(full).Any() || IsOpaque(full)) return;
        foreach (var lower in lowers)
        {
            if (Posix.TryLstat(Path.Combine(lower, rel)) is { } below)
            {
                if (below.IsDirectory && below.Mode == stat.Mode && below.Uid == stat.Uid && below.Gid == stat.Gid && below.MtimeNs == stat.MtimeNs)
                    Directory.Delete(full);
                return;
            }
            // An opaque ancestor in this layer hides the layers below: the directory is new.
            for (var dir = Path.GetDirectoryName(rel); !string.IsNullOrEmpty(dir); dir = Path.GetDirectoryName(dir))
                if (IsOpaque(Path.Combine(lower, dir))) return;
        }
    }

    private static bool IsOpaque(string dir)
    {
        Span<byte> value = stackalloc byte[4];
        foreach (var name in OpaqueXattrs)
            if (Lgetxattr(dir, name, ref MemoryMarshal.GetReference(value), (nuint)value.Length) == 1 && value[0] == (byte)'y') return true;
        return false;
    }

    [LibraryImport("libc", EntryPoint = "lgetxattr", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint Lgetxattr(string path, string name, ref byte value, nuint size);
}
