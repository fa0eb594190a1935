using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Img.Build;

/// <summary>What lstat tells about a file that .NET's FileInfo does not: inode, owner, exact mode and change time.</summary>
public readonly record struct FileStat(ulong Inode, ulong Size, uint Mode, uint Uid, uint Gid, long MtimeNs, long CtimeNs, uint Links = 1, ulong Device = 0)
{
    /// <summary>The file type bits.</summary>
    public uint Type => Mode & 0xF000;
    /// <summary>A directory.</summary>
    public bool IsDirectory => Type == 0x4000;
    /// <summary>A regular file.</summary>
    public bool IsRegular => Type == 0x8000;
    /// <summary>A symbolic link.</summary>
    public bool IsSymlink => Type == 0xA000;
    /// <summary>Permission bits with setuid/setgid/sticky.</summary>
    public uint Permissions => Mode & 0xFFF;
}

/// <summary>The few libc calls the build engine needs.</summary>
public static partial class Posix
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxBasicStats = 0x7ff;

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static unsafe partial int StatxNative(int dirfd, string path, int flags, uint mask, byte* buffer);

    [LibraryImport("libc", EntryPoint = "lchown", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int LchownNative(string path, uint uid, uint gid);

    /// <summary>lstat of <paramref name="path"/>, or null when it does not exist.</summary>
    public static unsafe FileStat? TryLstat(string path)
    {
        Span<byte> buf = stackalloc byte[256];
        int rc;
        fixed (byte* p = buf) rc = StatxNative(AtFdCwd, path, AtSymlinkNoFollow, StatxBasicStats, p);
        if (rc != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            // A name that is not UTF-8 reached us with U+FFFD in place of its bytes, so that name cannot be found again.
            if (errno == 2 && path.Contains('\uFFFD', StringComparison.Ordinal))
                throw new IOException($"{path}: the file name is not valid UTF-8 (its bad bytes are shown as U+FFFD); rename it or exclude it in .dockerignore");
            if (errno is 2 or 20) return null; // ENOENT, ENOTDIR
            throw new IOException($"lstat {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
        return new FileStat(
            BinaryPrimitives.ReadUInt64LittleEndian(buf[32..]),
            BinaryPrimitives.ReadUInt64LittleEndian(buf[40..]),
            BinaryPrimitives.ReadUInt16LittleEndian(buf[28..]),
            BinaryPrimitives.ReadUInt32LittleEndian(buf[20..]),
            BinaryPrimitives.ReadUInt32LittleEndian(buf[24..]),
            Ns(buf[112..]), Ns(buf[96..]),
            BinaryPrimitives.ReadUInt32LittleEndian(buf[16..]),
            ((ulong)BinaryPrimitives.ReadUInt32LittleEndian(buf[136..]) << 32) | BinaryPrimitives.ReadUInt32LittleEndian(buf[140..]));
    }

    /// <summary>
    /// lstat of a file in a snapshot as the image sees it: where img records owners (no user namespace), the owner and
    /// permissions of its <see cref="Img.Fs.OwnerRecord"/>, or root's for a file without one.
    /// </summary>
    public static FileStat LstatMeant(string path)
    {
        var st = Lstat(path);
        if (!Img.Runtime.Namespaces.Isolation.Current.RecordsOwners) return st;
        if (Img.Fs.OwnerRecord.Read(path, st.Mode) is not { } record) return st with { Uid = 0, Gid = 0 };
        var permissions = record.PermissionsFor(st.Mode & 0xFFF, st.IsDirectory);
        return st with { Uid = record.Uid, Gid = record.Gid, Mode = (st.Mode & 0xF000) | permissions };
    }

    /// <summary>lstat of <paramref name="path"/>.</summary>
    public static FileStat Lstat(string path) => TryLstat(path) ?? throw new FileNotFoundException($"lstat {path}: no such file or directory", path);

    private static long Ns(ReadOnlySpan<byte> ts) =>
        BinaryPrimitives.ReadInt64LittleEndian(ts) * 1_000_000_000L + BinaryPrimitives.ReadUInt32LittleEndian(ts[8..]);

    [LibraryImport("libc", EntryPoint = "link", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int LinkNative(string existing, string created);

    /// <summary>Makes <paramref name="created"/> a hard link to <paramref name="existing"/>.</summary>
    public static void Link(string existing, string created)
    {
        if (LinkNative(existing, created) != 0)
            throw new IOException($"link {created}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
    }

    /// <summary>Changes the owner of <paramref name="path"/> without following a final symlink.</summary>
    public static void Lchown(string path, uint uid, uint gid)
    {
        // Without a user namespace an ordinary user cannot give files other owners: img records the owner it means.
        if (Img.Runtime.Namespaces.Isolation.Current.RecordsOwners)
        {
            if (!Img.Fs.OwnerRecord.WriteOwner(path, uid, gid) && (uid != 0 || gid != 0))
                throw new IOException($"cannot record owner {uid}:{gid} of {path}: its directory cannot hold its record (name too long or xattr space full)");
            return;
        }
        if (LchownNative(path, uid, gid) != 0)
            throw new IOException($"lchown {path} {uid}:{gid}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
    }

    /// <summary>True when <paramref name="path"/> is a unix socket.</summary>
    public static bool IsSocket(string path) => TryLstat(path) is { Type: 0xC000 };
}
