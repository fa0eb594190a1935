using Microsoft.Win32.SafeHandles;

namespace Img.Archive.Layers;

/// <summary>
/// Copies one regular file's bytes into a new file: a reflink where the filesystem shares extents, else
/// copy_file_range in the kernel, else a plain read/write loop. Plain open(2) on both sides: no advisory locks,
/// and neither end is followed if it is a symlink. The new file is created 0600; its mode, owner and times are
/// the caller's to set.
/// </summary>
public static class FileContents
{
    /// <summary>How the bytes moved.</summary>
    public enum How { Empty, Reflink, CopyFileRange, Streamed }

    /// <summary>Copies <paramref name="source"/> (of <paramref name="size"/> bytes) into a new <paramref name="destination"/>.</summary>
    /// <exception cref="IOException">Either side cannot be opened, the destination exists, or the copy failed.</exception>
    public static How Copy(string source, string destination, long size)
    {
        var inFd = Native.OpenAtOrThrow(Native.AT_FDCWD, source, Native.O_RDONLY | Native.O_NOFOLLOW, 0, source);
        using var inHandle = new SafeFileHandle(inFd, ownsHandle: true);
        var outFd = Native.OpenAtOrThrow(Native.AT_FDCWD, destination, Native.O_WRONLY | Native.O_CREAT | Native.O_EXCL | Native.O_NOFOLLOW, 0b110_000_000, destination);
        using var outHandle = new SafeFileHandle(outFd, ownsHandle: true);
        if (size == 0) return How.Empty;
        if (Native.Ficlone(outFd, inFd) == 0) return How.Reflink;
        long left = size;
        var usedRange = false;
        while (left > 0)
        {
            var n = Native.CopyFileRange(inFd, outFd, left);
            if (n > 0) { left -= n; usedRange = true; continue; }
            if (n == 0) break; // source shrank
            if (!usedRange && (n == -Native.EXDEV || n == -Native.EINVAL || n == -Native.ENOSYS || n == -Native.EOPNOTSUPP || n == -Native.EBADF)) break;
            throw new NativeException("copy_file_range", destination, (int)-n);
        }
        if (left == 0 || usedRange) return How.CopyFileRange;
        using var input = new FileStream(inHandle, FileAccess.Read, 0);
        using var output = new FileStream(outHandle, FileAccess.Write, 0);
        input.CopyTo(output, 1 << 20);
        return How.Streamed;
    }
}
