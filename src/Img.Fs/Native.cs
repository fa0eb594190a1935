using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace Img.Fs;

/// <summary>The libc calls layers need and .NET does not expose: *at syscalls, xattrs, devices, ownership.</summary>
public static partial class Native
{
    public const int AT_FDCWD = -100;
    public const int AT_SYMLINK_NOFOLLOW = 0x100;
    public const int AT_REMOVEDIR = 0x200;
    public const int AT_EMPTY_PATH = 0x1000;

    public const int O_RDONLY = 0;
    public const int O_WRONLY = 1;
    public const int O_CREAT = 0x40;
    public const int O_EXCL = 0x80;
    public const int O_TRUNC = 0x200;
    public const int O_DIRECTORY = 0x10000;
    public const int O_NOFOLLOW = 0x20000;
    public const int O_CLOEXEC = 0x80000;
    public const int O_PATH = 0x200000;

    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EIO = 5;
    public const int EBADF = 9;
    public const int EACCES = 13;
    public const int EEXIST = 17;
    public const int EXDEV = 18;
    public const int ENOTTY = 25;
    public const int ENOTDIR = 20;
    public const int EISDIR = 21;
    public const int EINVAL = 22;
    public const int ENOSPC = 28;
    public const int ENAMETOOLONG = 36;
    public const int ENOSYS = 38;
    public const int ENOTEMPTY = 39;
    public const int ELOOP = 40;
    public const int ENODATA = 61;
    public const int EOPNOTSUPP = 95;
    public const int E2BIG = 7;
    public const int ERANGE = 34;

    public const uint S_IFMT = 0xF000;
    public const uint S_IFSOCK = 0xC000;
    public const uint S_IFLNK = 0xA000;
    public const uint S_IFREG = 0x8000;
    public const uint S_IFBLK = 0x6000;
    public const uint S_IFDIR = 0x4000;
    public const uint S_IFCHR = 0x2000;
    public const uint S_IFIFO = 0x1000;

    public const long UTIME_OMIT = (1L << 30) - 2;

    [LibraryImport("libc", EntryPoint = "openat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int openat_(int dirfd, string path, int flags, uint mode);

    [LibraryImport("libc", EntryPoint = "openat", SetLastError = true)]
    private static unsafe partial int openat_raw(int dirfd, byte* path, int flags, uint mode);

    [LibraryImport("libc", EntryPoint = "unlinkat", SetLastError = true)]
    private static unsafe partial int unlinkat_raw(int dirfd, byte* path, int flags);

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static unsafe partial int statx_raw(int dirfd, byte* path, int flags, uint mask, byte* buf);

    [LibraryImport("libc", EntryPoint = "chmod", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int chmod_(string path, uint mode);

    [LibraryImport("libc", EntryPoint = "fdopendir", SetLastError = true)]
    private static partial nint fdopendir_(int fd);

    [LibraryImport("libc", EntryPoint = "readdir64", SetLastError = true)]
    private static partial nint readdir64_(nint dir);

    [LibraryImport("libc", EntryPoint = "closedir", SetLastError = true)]
    private static partial int closedir_(nint dir);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "mkdirat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mkdirat_(int dirfd, string path, uint mode);

    [LibraryImport("libc", EntryPoint = "symlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int symlinkat_(string target, int dirfd, string path);

    [LibraryImport("libc", EntryPoint = "linkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int linkat_(int olddirfd, string oldpath, int newdirfd, string newpath, int flags);

    [LibraryImport("libc", EntryPoint = "unlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int unlinkat_(int dirfd, string path, int flags);

    [LibraryImport("libc", EntryPoint = "mknodat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mknodat_(int dirfd, string path, uint mode, ulong dev);

    [LibraryImport("libc", EntryPoint = "fchownat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int fchownat_(int dirfd, string path, uint uid, uint gid, int flags);

    [LibraryImport("libc", EntryPoint = "fchmodat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int fchmodat_(int dirfd, string path, uint mode, int flags);

    [LibraryImport("libc", EntryPoint = "fchmod", SetLastError = true)]
    private static partial int fchmod_(int fd, uint mode);

    [LibraryImport("libc", EntryPoint = "fchown", SetLastError = true)]
    private static partial int fchown_(int fd, uint uid, uint gid);

    [LibraryImport("libc", EntryPoint = "utimensat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int utimensat_(int dirfd, string path, long* times, int flags);

    [LibraryImport("libc", EntryPoint = "readlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial nint readlinkat_(int dirfd, string path, byte* buf, nuint size);

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int statx_(int dirfd, string path, int flags, uint mask, byte* buf);

    [LibraryImport("libc", EntryPoint = "lsetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int lsetxattr_(string path, string name, byte* value, nuint size, int flags);

    [LibraryImport("libc", EntryPoint = "lgetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial nint lgetxattr_(string path, string name, byte* value, nuint size);

    [LibraryImport("libc", EntryPoint = "llistxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial nint llistxattr_(string path, byte* list, nuint size);

    [LibraryImport("libc", EntryPoint = "lremovexattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int lremovexattr_(string path, string name);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static partial int ioctl_(int fd, ulong request, nint arg);

    [LibraryImport("libc", EntryPoint = "copy_file_range", SetLastError = true)]
    private static unsafe partial nint copy_file_range_(int fdIn, long* offIn, int fdOut, long* offOut, nuint len, uint flags);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static unsafe partial long syscall_openat2(long number, int dirfd, byte* path, OpenHow* how, nuint size);

    [StructLayout(LayoutKind.Sequential)]
    private struct OpenHow
    {
        public ulong Flags;
        public ulong Mode;
        public ulong Resolve;
    }

    private const long SYS_openat2 = 437; // same number on x86-64 and arm64
    private const ulong RESOLVE_NO_MAGICLINKS = 0x02;
    private const ulong RESOLVE_IN_ROOT = 0x10;
    private const ulong FICLONE = 0x40049409;

    private static int _openat2State; // 0 unknown, 1 works, -1 unavailable

    private static int Errno => Marshal.GetLastPInvokeError();

    private static NativeException Fail(string op, string path) => new(op, path, Errno);

    public static int OpenAt(int dirfd, string path, int flags, uint mode = 0)
    {
        var fd = openat_(dirfd, path, flags | O_CLOEXEC, mode);
        return fd >= 0 ? fd : -Errno;
    }

    public static int OpenAtOrThrow(int dirfd, string path, int flags, uint mode, string display)
    {
        var fd = OpenAt(dirfd, path, flags, mode);
        if (fd < 0) throw new NativeException("open", display, -fd);
        return fd;
    }

    /// <summary>
    /// openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS): the kernel resolves every component, symlinks
    /// included, as if <paramref name="rootfd"/> were "/". Returns -ENOSYS when the kernel lacks it.
    /// </summary>
    public static unsafe int OpenInRoot(int rootfd, string relPath, int flags)
    {
        if (Volatile.Read(ref _openat2State) < 0) return -ENOSYS;
        var how = new OpenHow { Flags = (ulong)(flags | O_CLOEXEC), Mode = 0, Resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
        var bytes = Encoding.UTF8.GetBytes((relPath.Length == 0 ? "." : relPath) + "\0");
        fixed (byte* p = bytes)
        {
            var r = syscall_openat2(SYS_openat2, rootfd, p, &how, (nuint)sizeof(OpenHow));
            if (r >= 0) { Volatile.Write(ref _openat2State, 1); return (int)r; }
            var e = Errno;
            if (e == ENOSYS || (e == EPERM && Volatile.Read(ref _openat2State) == 0)) // seccomp filters answer EPERM/ENOSYS
            {
                Volatile.Write(ref _openat2State, -1);
                return -ENOSYS;
            }
            return -e;
        }
    }

    /// <summary>openat with a name given as raw bytes (names need not be valid UTF-8).</summary>
    public static unsafe int OpenAt(int dirfd, ReadOnlySpan<byte> name, int flags)
    {
        fixed (byte* p = NulTerminated(name))
        {
            var fd = openat_raw(dirfd, p, flags | O_CLOEXEC, 0);
            return fd >= 0 ? fd : -Errno;
        }
    }

    /// <summary>unlinkat with a raw-byte name.</summary>
    public static unsafe int UnlinkAt(int dirfd, ReadOnlySpan<byte> name, bool dir)
    {
        fixed (byte* p = NulTerminated(name))
            return unlinkat_raw(dirfd, p, dir ? AT_REMOVEDIR : 0) == 0 ? 0 : -Errno;
    }

    /// <summary>lstat-like statx of a raw-byte name (the directory itself when empty); null when it does not exist.</summary>
    public static unsafe FileStat? StatAt(int dirfd, ReadOnlySpan<byte> name, string display)
    {
        byte* buf = stackalloc byte[256];
        fixed (byte* p = NulTerminated(name))
        {
            if (statx_raw(dirfd, p, AT_SYMLINK_NOFOLLOW | (name.Length == 0 ? AT_EMPTY_PATH : 0), 0x7ff, buf) != 0)
            {
                var e = Errno;
                if (e is ENOENT or ENOTDIR) return null;
                throw new NativeException("stat", display, e);
            }
        }
        return ParseStatx(new ReadOnlySpan<byte>(buf, 256));
    }

    /// <summary>chmod of the directory or file open as <paramref name="fd"/> (O_PATH works: the /proc magic link names that very inode).</summary>
    public static int ChmodFd(int fd, uint mode) => chmod_($"/proc/self/fd/{fd}", mode) == 0 ? 0 : -Errno;

    /// <summary>
    /// The names in the directory open as <paramref name="dirFd"/> (any kind of fd, O_PATH included), as raw bytes:
    /// a name that is not valid UTF-8 must still be removable.
    /// </summary>
    public static unsafe List<byte[]> ReadDir(int dirFd, string display)
    {
        var fd = OpenAt(dirFd, ".", O_RDONLY | O_DIRECTORY);
        if (fd < 0) throw new NativeException("open directory", display, -fd);
        var dir = fdopendir_(fd);
        if (dir == 0)
        {
            var e = Errno;
            Close(fd);
            throw new NativeException("opendir", display, e);
        }
        var names = new List<byte[]>();
        try
        {
            while (true)
            {
                Marshal.SetLastPInvokeError(0);
                var ent = readdir64_(dir);
                if (ent == 0)
                {
                    if (Errno != 0) throw new NativeException("readdir", display, Errno);
                    break;
                }
                // struct dirent64: d_ino (8), d_off (8), d_reclen (2), d_type (1), d_name.
                var name = MemoryMarshal.CreateReadOnlySpanFromNullTerminated((byte*)ent + 19);
                if (name.SequenceEqual("."u8) || name.SequenceEqual(".."u8)) continue;
                names.Add(name.ToArray());
            }
        }
        finally { closedir_(dir); } // closes fd too
        return names;
    }

    private static byte[] NulTerminated(ReadOnlySpan<byte> name)
    {
        var b = new byte[name.Length + 1];
        name.CopyTo(b);
        return b;
    }

    public static int MkdirAt(int dirfd, string name, uint mode) => mkdirat_(dirfd, name, mode) == 0 ? 0 : -Errno;
    public static int SymlinkAt(string target, int dirfd, string name) => symlinkat_(target, dirfd, name) == 0 ? 0 : -Errno;
    public static int LinkAt(int olddirfd, string oldname, int newdirfd, string newname) => linkat_(olddirfd, oldname, newdirfd, newname, 0) == 0 ? 0 : -Errno;
    public static int UnlinkAt(int dirfd, string name, bool dir) => unlinkat_(dirfd, name, dir ? AT_REMOVEDIR : 0) == 0 ? 0 : -Errno;
    public static int MknodAt(int dirfd, string name, uint mode, ulong dev) => mknodat_(dirfd, name, mode, dev) == 0 ? 0 : -Errno;
    public static int LchownAt(int dirfd, string name, uint uid, uint gid) => fchownat_(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -Errno;
    public static int ChmodAt(int dirfd, string name, uint mode) => fchmodat_(dirfd, name, mode, 0) == 0 ? 0 : -Errno;
    public static int Fchmod(int fd, uint mode) => fchmod_(fd, mode) == 0 ? 0 : -Errno;
    public static int Fchown(int fd, uint uid, uint gid) => fchown_(fd, uid, gid) == 0 ? 0 : -Errno;

    public static ulong MakeDev(uint major, uint minor) =>
        ((ulong)(major & 0xfffff000) << 32) | ((ulong)(major & 0xfff) << 8) | ((ulong)(minor & 0xffffff00) << 12) | (minor & 0xff);

    /// <summary>Sets atime and mtime of <paramref name="name"/> under dirfd without following a final symlink.</summary>
    public static unsafe int UtimesAt(int dirfd, string name, long sec, long nsec)
    {
        long* t = stackalloc long[4];
        t[0] = 0; t[1] = UTIME_OMIT; // atime is not part of a layer: leave it
        t[2] = sec; t[3] = nsec;
        return utimensat_(dirfd, name, t, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -Errno;
    }

    public static unsafe string ReadLinkAt(int dirfd, string name, string display)
    {
        var buf = new byte[4096 + 1];
        fixed (byte* p = buf)
        {
            var n = readlinkat_(dirfd, name, p, (nuint)buf.Length);
            if (n < 0) throw Fail("readlink", display);
            return Encoding.UTF8.GetString(buf, 0, (int)n);
        }
    }

    /// <summary>lstat-like (statx with AT_SYMLINK_NOFOLLOW); null when the path does not exist.</summary>
    public static unsafe FileStat? StatAt(int dirfd, string name, string display, bool follow = false)
    {
        byte* buf = stackalloc byte[256];
        var flags = (follow ? 0 : AT_SYMLINK_NOFOLLOW) | (name.Length == 0 ? AT_EMPTY_PATH : 0);
        if (statx_(dirfd, name, flags, 0x7ff, buf) != 0)
        {
            var e = Errno;
            if (e is ENOENT or ENOTDIR) return null;
            throw new NativeException("stat", display, e);
        }
        return ParseStatx(new ReadOnlySpan<byte>(buf, 256));
    }

    private static FileStat ParseStatx(ReadOnlySpan<byte> s)
    {
        return new FileStat(
            Mode: BinaryPrimitives.ReadUInt16LittleEndian(s[28..]),
            Uid: BinaryPrimitives.ReadUInt32LittleEndian(s[20..]),
            Gid: BinaryPrimitives.ReadUInt32LittleEndian(s[24..]),
            Nlink: BinaryPrimitives.ReadUInt32LittleEndian(s[16..]),
            Ino: BinaryPrimitives.ReadUInt64LittleEndian(s[32..]),
            Size: BinaryPrimitives.ReadInt64LittleEndian(s[40..]),
            MtimeSec: BinaryPrimitives.ReadInt64LittleEndian(s[112..]),
            MtimeNsec: BinaryPrimitives.ReadUInt32LittleEndian(s[120..]),
            RdevMajor: BinaryPrimitives.ReadUInt32LittleEndian(s[128..]),
            RdevMinor: BinaryPrimitives.ReadUInt32LittleEndian(s[132..]),
            DevMajor: BinaryPrimitives.ReadUInt32LittleEndian(s[136..]),
            DevMinor: BinaryPrimitives.ReadUInt32LittleEndian(s[140..]));
    }

    public static FileStat? Lstat(string path) => StatAt(AT_FDCWD, path, path);

    public static unsafe int SetXattr(string path, string name, ReadOnlySpan<byte> value)
    {
        fixed (byte* p = value)
            return lsetxattr_(path, name, p, (nuint)value.Length, 0) == 0 ? 0 : -Errno;
    }

    public static int RemoveXattr(string path, string name) => lremovexattr_(path, name) == 0 ? 0 : -Errno;

    /// <summary>The value of one xattr, or null when absent or unsupported.</summary>
    public static unsafe byte[]? GetXattr(string path, string name)
    {
        var size = 256;
        while (true)
        {
            var buf = new byte[size];
            fixed (byte* p = buf)
            {
                var n = lgetxattr_(path, name, p, (nuint)buf.Length);
                if (n >= 0) return buf.AsSpan(0, (int)n).ToArray();
                var e = Errno;
                if (e == ERANGE && size < 1 << 20) { size *= 4; continue; }
                if (e is ENODATA or EOPNOTSUPP or ENOENT) return null;
                throw new NativeException("getxattr " + name, path, e);
            }
        }
    }

    /// <summary>All xattr names of a path (not following symlinks), sorted by bytes.</summary>
    public static unsafe List<string> ListXattrs(string path)
    {
        var size = 1024;
        // Called for every file a layer holds: the usual short list is read into the stack, not a new array each time.
        Span<byte> first = stackalloc byte[1024];
        while (true)
        {
            var buf = size == first.Length ? first : new byte[size];
            fixed (byte* p = buf)
            {
                var n = llistxattr_(path, p, (nuint)buf.Length);
                if (n < 0)
                {
                    var e = Errno;
                    if (e == ERANGE && size < 1 << 20) { size *= 4; continue; }
                    if (e is EOPNOTSUPP or ENOENT) return [];
                    throw new NativeException("listxattr", path, e);
                }
                var names = new List<string>();
                var start = 0;
                for (var i = 0; i < n; i++)
                {
                    if (buf[i] != 0) continue;
                    if (i > start) names.Add(Encoding.UTF8.GetString(buf[start..i]));
                    start = i + 1;
                }
                names.Sort(StringComparer.Ordinal);
                return names;
            }
        }
    }

    public static int Ficlone(int dstFd, int srcFd) => ioctl_(dstFd, FICLONE, srcFd) == 0 ? 0 : -Errno;

    /// <summary>Sets the mtime of the file open as <paramref name="fd"/>, leaving atime (futimens).</summary>
    public static unsafe int Futimens(int fd, long sec, long nsec)
    {
        long* t = stackalloc long[4];
        t[0] = 0; t[1] = UTIME_OMIT;
        t[2] = sec; t[3] = nsec;
        return futimens_(fd, t) == 0 ? 0 : -Errno;
    }

    [LibraryImport("libc", EntryPoint = "futimens", SetLastError = true)]
    private static unsafe partial int futimens_(int fd, long* times);

    /// <summary>pread(2) straight on the descriptor: no lseek to learn whether it can seek, as RandomAccess does per handle.</summary>
    public static unsafe long Pread(int fd, Span<byte> buffer, long offset)
    {
        fixed (byte* p = buffer) return pread_(fd, p, (nuint)buffer.Length, offset) is var n && n >= 0 ? n : -Errno;
    }

    /// <summary>pwrite(2) of all of <paramref name="buffer"/> at <paramref name="offset"/>; returns 0 or -errno.</summary>
    public static unsafe int PwriteAll(int fd, ReadOnlySpan<byte> buffer, long offset)
    {
        fixed (byte* p = buffer)
        {
            var done = 0;
            while (done < buffer.Length)
            {
                var n = pwrite_(fd, p + done, (nuint)(buffer.Length - done), offset + done);
                if (n < 0)
                {
                    var e = Errno;
                    if (e == EINTR) continue;
                    return -e;
                }
                done += (int)n;
            }
            return 0;
        }
    }

    [LibraryImport("libc", EntryPoint = "pread", SetLastError = true)]
    private static unsafe partial nint pread_(int fd, byte* buf, nuint count, long offset);

    [LibraryImport("libc", EntryPoint = "pwrite", SetLastError = true)]
    private static unsafe partial nint pwrite_(int fd, byte* buf, nuint count, long offset);

    public static unsafe long CopyFileRange(int fdIn, int fdOut, long len) =>
        copy_file_range_(fdIn, null, fdOut, null, (nuint)Math.Min(len, 1L << 30), 0) is var n && n >= 0 ? n : -Errno;

    /// <summary>A path that names <paramref name="name"/> inside the directory open as dirfd (for l*xattr calls).</summary>
    /// <remarks>For the directory itself "/." is appended, so l*xattr calls act on it and not on the /proc magic link.</remarks>
    public static string FdPath(int dirfd, string name) => name.Length == 0 ? $"/proc/self/fd/{dirfd}/." : $"/proc/self/fd/{dirfd}/{name}";
}

/// <summary>The metadata of one file, as statx reports it without following symlinks.</summary>
public readonly record struct FileStat(uint Mode, uint Uid, uint Gid, uint Nlink, ulong Ino, long Size,
    long MtimeSec, uint MtimeNsec, uint RdevMajor, uint RdevMinor, uint DevMajor, uint DevMinor)
{
    public uint Type => Mode & Native.S_IFMT;
    public uint Permissions => Mode & 0xFFF; // 07777: permission bits plus setuid, setgid, sticky
    public bool IsDir => Type == Native.S_IFDIR;
    public bool IsRegular => Type == Native.S_IFREG;
    public bool IsSymlink => Type == Native.S_IFLNK;
    public bool IsWhiteoutDevice => Type == Native.S_IFCHR && RdevMajor == 0 && RdevMinor == 0;
    public (ulong, ulong, ulong) InodeKey => (((ulong)DevMajor << 32) | DevMinor, Ino, 0);
}

/// <summary>A failed system call, with the path it was about and the errno.</summary>
public sealed class NativeException(string operation, string path, int errno)
    : IOException($"{operation} {path}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})")
{
    /// <summary>The errno value the call failed with.</summary>
    public int Errno { get; } = errno;
}
