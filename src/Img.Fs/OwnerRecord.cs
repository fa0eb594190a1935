using System.Globalization;
using System.Text;

namespace Img.Fs;

/// <summary>
/// The owner, mode and device numbers img means a file to have where the disk cannot hold them (an ordinary user with
/// no user namespace: every file is that user's, mknod is refused). Kept in the file's
/// <c>user.containers.override_stat</c> xattr (the name and <c>uid:gid:0MODE</c> form containers/storage and
/// fuse-overlayfs use; device numbers follow as <c>:MAJOR:MINOR</c>), so it travels with the file through copies
/// (<c>cp -a</c>), renames and hard links, and layers are written from it.
/// Only regular files and directories can carry a <c>user.*</c> xattr: a symlink's or fifo's record is kept by its
/// directory (<c>user.img.owner.NAME</c>), and a device is kept as an empty regular file.
/// On disk the owner may always read and write (and enter a directory): see <see cref="DiskPermissions"/>.
/// </summary>
/// <param name="Uid">The owner the image gets.</param>
/// <param name="Gid">The group the image gets.</param>
/// <param name="Mode">File type and permission bits (<c>st_mode</c>).</param>
/// <param name="DevMajor">A device's major number.</param>
/// <param name="DevMinor">A device's minor number.</param>
public readonly record struct OwnerRecord(uint Uid, uint Gid, uint Mode, uint DevMajor = 0, uint DevMinor = 0)
{
    /// <summary>The xattr that holds a record.</summary>
    public const string Xattr = "user.containers.override_stat";

    /// <summary>The prefix of the xattrs in which a directory keeps the records of its symlinks and fifos.</summary>
    public const string ChildXattrPrefix = "user.img.owner.";

    /// <summary>The permission bits (07777).</summary>
    public uint Permissions => Mode & 0xFFF;

    /// <summary>The file type bits (<c>S_IFMT</c>).</summary>
    public uint Type => Mode & Native.S_IFMT;

    /// <summary>True for a character or block device kept as an empty regular file.</summary>
    public bool IsDevice => Type is Native.S_IFCHR or Native.S_IFBLK;

    /// <summary>
    /// The permissions a file meant to have <paramref name="permissions"/> gets on disk: the owner (img's user) may
    /// always read and write it, and enter a directory, so later steps can change it without privilege.
    /// </summary>
    public static uint DiskPermissions(uint permissions, bool directory) => permissions | (directory ? 0x1C0u : 0x180u);

    /// <summary>
    /// The permissions the image gets for a file whose disk permissions are <paramref name="disk"/>: the record's while
    /// the disk still shows what img put there, else the disk's (a RUN step's chmod reaches the disk, not the record).
    /// </summary>
    public uint PermissionsFor(uint disk, bool directory) => disk == DiskPermissions(Permissions, directory) ? Permissions : disk;

    /// <summary>The xattr value.</summary>
    public override string ToString()
    {
        var text = string.Create(CultureInfo.InvariantCulture, $"{Uid}:{Gid}:0{Convert.ToString(Mode, 8)}");
        return IsDevice ? string.Create(CultureInfo.InvariantCulture, $"{text}:{DevMajor}:{DevMinor}") : text;
    }

    /// <summary>Parses an xattr value; null when it is not one.</summary>
    public static OwnerRecord? Parse(ReadOnlySpan<byte> value)
    {
        var parts = Encoding.ASCII.GetString(value).Split(':');
        if (parts.Length is not (3 or 5)) return null;
        if (!uint.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var uid)
            || !uint.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var gid)) return null;
        uint mode;
        try { mode = Convert.ToUInt32(parts[2], 8); }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException) { return null; }
        uint major = 0, minor = 0;
        if (parts.Length == 5 && !(uint.TryParse(parts[3], NumberStyles.None, CultureInfo.InvariantCulture, out major)
            && uint.TryParse(parts[4], NumberStyles.None, CultureInfo.InvariantCulture, out minor))) return null;
        return new OwnerRecord(uid, gid, mode, major, minor);
    }

    /// <summary>The record of <paramref name="path"/> (not following a final link), or null.</summary>
    public static OwnerRecord? Read(string path) => Native.Lstat(path) is { } st ? Read(path, st.Mode) : null;

    /// <summary>
    /// The record of <paramref name="path"/>, whose <c>st_mode</c> the caller has just read (<paramref name="mode"/>):
    /// no second lstat on the layer writer's per-file path.
    /// </summary>
    public static OwnerRecord? Read(string path, uint mode)
    {
        if (Holder(path, mode & Native.S_IFMT) is not var (holder, name)) return null;
        return Native.GetXattr(holder, name) is { } value ? Parse(value) : null;
    }

    /// <summary>
    /// Where a file's record lives: its own xattr for a file or directory, its directory's for anything else; null for
    /// a name too long to make an xattr name of.
    /// </summary>
    private static (string Path, string Name)? Holder(string path, uint type)
    {
        if (type is Native.S_IFREG or Native.S_IFDIR) return (path, Xattr);
        var file = Path.GetFileName(path);
        if (Encoding.UTF8.GetByteCount(ChildXattrPrefix + file) > 255) return null;
        return ((Path.GetDirectoryName(path) ?? "/") + "/.", ChildXattrPrefix + file);
    }

    /// <summary>
    /// Records <paramref name="record"/> for <paramref name="path"/> and gives a file or directory its disk permissions;
    /// false when no record can be kept (a name too long for its directory's xattr, or a directory whose xattr space
    /// is full). A symlink or fifo of root's needs none (no record means root's), so a directory of hundreds of links
    /// (busybox's /bin) holds no records at all.
    /// </summary>
    public static bool Write(string path, OwnerRecord record)
    {
        if (Native.Lstat(path) is not { } st || Holder(path, st.Type) is not var (holder, name)) return false;
        int r;
        if (holder != path && record.Uid == 0 && record.Gid == 0)
        {
            r = Native.RemoveXattr(holder, name);
            if (r < 0 && r != -Native.ENODATA) throw new NativeException("record owner on", path, -r);
            return true;
        }
        r = Native.SetXattr(holder, name, Encoding.ASCII.GetBytes(record.ToString()));
        if (r is -Native.ENOSPC or -Native.E2BIG && holder != path) return false;
        if (r < 0) throw new NativeException("record owner on", path, -r);
        if (holder != path) return true;
        var disk = DiskPermissions(record.Permissions, st.Type == Native.S_IFDIR);
        if (st.Permissions != disk)
        {
            r = Native.ChmodAt(Native.AT_FDCWD, path, disk);
            if (r < 0) throw new NativeException("chmod", path, -r);
        }
        return true;
    }

    /// <summary>Records owner <paramref name="uid"/>:<paramref name="gid"/> for <paramref name="path"/> with the permissions it has now.</summary>
    public static bool WriteOwner(string path, uint uid, uint gid)
    {
        if (Native.Lstat(path) is not { } st) return false;
        var mode = Read(path) is { } old ? (old.Type | old.PermissionsFor(st.Permissions, st.Type == Native.S_IFDIR)) : st.Mode;
        return Write(path, new OwnerRecord(uid, gid, mode & (Native.S_IFMT | 0xFFF)));
    }
}
