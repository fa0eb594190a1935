using System.Buffers;
using Microsoft.Win32.SafeHandles;

namespace Img.Archive.Layers;

/// <summary>
/// Copies one regular file's bytes into a new file: a reflink where the filesystem shares extents, else
/// copy_file_range in the kernel, else a plain pread/pwrite loop. Plain open(2) on both sides: no advisory locks,
/// and neither end is followed if it is a symlink. The new file is created 0600; its mode, owner and times are
/// the caller's to set, or <see cref="FileMetadata"/> sets them on the open descriptor (no path walks).
/// </summary>
public static class FileContents
{
    /// <summary>How the bytes moved.</summary>
    public enum How { Empty, Reflink, CopyFileRange, Streamed }

    /// <summary>Copies <paramref name="source"/> (of <paramref name="size"/> bytes) into a new <paramref name="destination"/>.</summary>
    /// <param name="route">What earlier files of the same tree copy learned about reflink and copy_file_range between
    /// the two filesystems; null tries both for this file.</param>
    /// <param name="metadata">Owner, mode and mtime to give the new file through its descriptor before it is closed.</param>
    /// <exception cref="IOException">Either side cannot be opened, the destination exists, or the copy failed.</exception>
    public static How Copy(string source, string destination, long size, CopyRoute? route = null, FileMetadata? metadata = null)
    {
        var inFd = Native.OpenAtOrThrow(Native.AT_FDCWD, source, Native.O_RDONLY | Native.O_NOFOLLOW, 0, source);
        using var inHandle = new SafeFileHandle(inFd, ownsHandle: true);
        var outFd = Native.OpenAtOrThrow(Native.AT_FDCWD, destination, Native.O_WRONLY | Native.O_CREAT | Native.O_EXCL | Native.O_NOFOLLOW, 0b110_000_000, destination);
        using var outHandle = new SafeFileHandle(outFd, ownsHandle: true);
        var how = size == 0 ? How.Empty : CopyBytes(inFd, outFd, size, route ?? new CopyRoute(), destination);
        if (metadata is { } m) m.Apply(outFd, destination);
        return how;
    }

    private static How CopyBytes(int inFd, int outFd, long size, CopyRoute route, string destination)
    {
        if (route.Reflink)
        {
            var rc = Native.Ficlone(outFd, inFd);
            if (rc == 0) return How.Reflink;
            // Not between these filesystems: the rest of this copy need not ask again.
            if (rc is -Native.EXDEV or -Native.EOPNOTSUPP or -Native.EINVAL or -Native.ENOTTY) route.Reflink = false;
        }
        long left = size;
        if (route.CopyFileRange)
        {
            var usedRange = false;
            while (left > 0)
            {
                var n = Native.CopyFileRange(inFd, outFd, left);
                if (n > 0) { left -= n; usedRange = true; continue; }
                if (n == 0) break; // source shrank
                if (!usedRange && (n == -Native.EXDEV || n == -Native.EINVAL || n == -Native.ENOSYS || n == -Native.EOPNOTSUPP || n == -Native.EBADF))
                {
                    route.CopyFileRange = false;
                    break;
                }
                throw new NativeException("copy_file_range", destination, (int)-n);
            }
            if (left == 0 || usedRange) return How.CopyFileRange;
        }
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(Math.Max(size, 1), 1 << 20));
        try
        {
            long offset = 0;
            while (true)
            {
                // Reads until end of file, not just size bytes: a file that grew since its stat is copied whole.
                var n = Native.Pread(inFd, buffer, offset);
                if (n < 0) throw new NativeException("read", destination, (int)-n);
                if (n == 0) return How.Streamed;
                var rc = Native.PwriteAll(outFd, buffer.AsSpan(0, (int)n), offset);
                if (rc < 0) throw new NativeException("write", destination, -rc);
                offset += n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}

/// <summary>
/// What one tree copy has learned about moving bytes between its source and destination filesystems: once the
/// kernel refuses a reflink or copy_file_range between them as unsupported, later files skip the attempt (two
/// failing system calls per file otherwise, as between a context directory and an overlay mount).
/// </summary>
public sealed class CopyRoute
{
    /// <summary>A reflink may still work.</summary>
    public bool Reflink { get; set; } = true;

    /// <summary>copy_file_range may still work.</summary>
    public bool CopyFileRange { get; set; } = true;
}

/// <summary>Owner, permission bits and mtime for a new file, set through its descriptor: owner first, since a chown
/// clears setuid and setgid bits the mode may ask for. No <see cref="Owner"/>: the file keeps the creator's (where img
/// records owners instead of setting them).</summary>
public readonly record struct FileMetadata(uint Mode, long MtimeNs)
{
    /// <summary>The owner to give the file, or null to leave it the creator's.</summary>
    public (uint Uid, uint Gid)? Owner { get; init; }

    internal void Apply(int fd, string display)
    {
        int rc;
        if (Owner is var (uid, gid))
        {
            rc = Native.Fchown(fd, uid, gid);
            if (rc < 0) throw new NativeException($"chown {uid}:{gid}", display, -rc);
        }
        rc = Native.Fchmod(fd, Mode);
        if (rc < 0) throw new NativeException("chmod", display, -rc);
        rc = Native.Futimens(fd, MtimeNs / 1_000_000_000, MtimeNs % 1_000_000_000);
        if (rc < 0) throw new NativeException("utimes", display, -rc);
    }
}
