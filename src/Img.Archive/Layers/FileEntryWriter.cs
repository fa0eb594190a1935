using System.Text;

namespace Img.Archive.Layers;

/// <summary>
/// Turns files on disk into layer entries: header from lstat (type, 07777 mode, uid/gid as seen in
/// this namespace, whole-second mtime, optionally clamped), xattrs, symlink targets, and hard links
/// within the layer (a second path to an inode already written becomes a link to the first).
/// Shared by the three layer sources.
/// </summary>
internal sealed class FileEntryWriter(WriteOptions options)
{
    private readonly Dictionary<(ulong Dev, ulong Ino), string> _written = new();

    public WriteOptions Options => options;

    /// <summary>Writes <paramref name="fullPath"/> as entry <paramref name="name"/>; false when the kind is not carried in layers (sockets).</summary>
    public async ValueTask<bool> WriteAsync(TarStreamWriter tar, string fullPath, string name, FileStat st, CancellationToken ct)
    {
        var h = Header(fullPath, name, st);
        if (h is null) return false;
        if (h.Kind == TarEntryKind.File && st.Nlink > 1)
        {
            var key = (((ulong)st.DevMajor << 32) | st.DevMinor, st.Ino);
            if (_written.TryGetValue(key, out var first))
            {
                h.Kind = TarEntryKind.HardLink;
                h.LinkName = first;
                h.Size = 0;
                h.Xattrs.Clear();
                await tar.WriteEntryAsync(h, null, ct).ConfigureAwait(false);
                return true;
            }
            _written[key] = name;
        }
        if (h.Kind == TarEntryKind.File && h.Size > 0)
        {
            var file = FileReadStream.Open(fullPath);
            await using (file.ConfigureAwait(false))
                await tar.WriteEntryAsync(h, file, ct).ConfigureAwait(false);
        }
        else
        {
            await tar.WriteEntryAsync(h, null, ct).ConfigureAwait(false);
        }
        return true;
    }

    /// <summary>A header for a file, or null for kinds layers do not carry.</summary>
    public TarHeader? Header(string fullPath, string name, FileStat st)
    {
        TarEntryKind kind;
        switch (st.Type)
        {
            case Native.S_IFREG: kind = TarEntryKind.File; break;
            case Native.S_IFDIR: kind = TarEntryKind.Directory; break;
            case Native.S_IFLNK: kind = TarEntryKind.Symlink; break;
            case Native.S_IFCHR: kind = TarEntryKind.CharDevice; break;
            case Native.S_IFBLK: kind = TarEntryKind.BlockDevice; break;
            case Native.S_IFIFO: kind = TarEntryKind.Fifo; break;
            default: return null; // sockets are not part of a filesystem image (docker skips them too)
        }
        var mtime = st.MtimeSec;
        if (options.ClampMtime is { } clamp && mtime > clamp) mtime = clamp;
        var h = new TarHeader
        {
            Name = name,
            Kind = kind,
            Mode = st.Permissions,
            Uid = st.Uid,
            Gid = st.Gid,
            Size = kind == TarEntryKind.File ? st.Size : 0,
            MtimeSec = mtime,
        };
        if (kind == TarEntryKind.Symlink) h.LinkName = Native.ReadLinkAt(Native.AT_FDCWD, fullPath, fullPath);
        if (kind is TarEntryKind.CharDevice or TarEntryKind.BlockDevice)
        {
            h.DevMajor = st.RdevMajor;
            h.DevMinor = st.RdevMinor;
        }
        if (options.OwnersRecorded && OwnerRecord.Read(fullPath, st.Mode) is { } record)
        {
            h.Uid = record.Uid;
            h.Gid = record.Gid;
            h.Mode = record.PermissionsFor(st.Permissions, kind == TarEntryKind.Directory);
            if (kind == TarEntryKind.File && record.IsDevice && st.Size == 0)
            {
                h.Kind = record.Type == Native.S_IFCHR ? TarEntryKind.CharDevice : TarEntryKind.BlockDevice;
                h.DevMajor = record.DevMajor;
                h.DevMinor = record.DevMinor;
            }
        }
        else if (options.OwnersRecorded)
        {
            // No record: made by a step running as proot's fake root (on disk every file is the user's).
            h.Uid = 0;
            h.Gid = 0;
        }
        if (options.IncludeXattrs)
            foreach (var x in Native.ListXattrs(fullPath))
                if (!IsPrivateXattr(x) && Native.GetXattr(fullPath, x) is { } value)
                    h.Xattrs[x] = value;
        return h;
    }

    /// <summary>Xattrs that describe this host's storage, not the image: overlayfs bookkeeping and SELinux labels.</summary>
    public static bool IsPrivateXattr(string name) =>
        name.StartsWith("trusted.overlay.", StringComparison.Ordinal) ||
        name.StartsWith("user.overlay.", StringComparison.Ordinal) ||
        name.StartsWith("user.fuseoverlayfs.", StringComparison.Ordinal) ||
        name == "security.selinux" ||
        name == OwnerRecord.Xattr ||
        name.StartsWith(OwnerRecord.ChildXattrPrefix, StringComparison.Ordinal);

    /// <summary>A whiteout entry: an empty regular file ".wh.NAME" (mtime 0, as containerd writes them).</summary>
    public static TarHeader Whiteout(string parent, string baseName) => new()
    {
        Name = Join(parent, TarHeader.WhiteoutPrefix + baseName),
        Kind = TarEntryKind.File,
        Mode = 0,
    };

    /// <summary>The opaque marker for a directory.</summary>
    public static TarHeader Opaque(string dir) => new() { Name = Join(dir, TarHeader.OpaqueMarker), Kind = TarEntryKind.File };

    public static string Join(string parent, string name) => parent.Length == 0 ? name : parent + "/" + name;

    /// <summary>Directory entry names sorted by their UTF-8 bytes, so layer order is the same on every machine.</summary>
    public static List<string> ListSorted(string dir)
    {
        var names = new List<string>();
        foreach (var entry in Directory.EnumerateFileSystemEntries(dir))
            names.Add(Path.GetFileName(entry));
        names.Sort(Utf8Order.Instance);
        return names;
    }
}

/// <summary>Ordinal comparison of strings by their UTF-8 encoding (differs from UTF-16 order above U+D7FF).</summary>
public sealed class Utf8Order : IComparer<string>
{
    /// <summary>The comparer.</summary>
    public static readonly Utf8Order Instance = new();

    /// <inheritdoc />
    public int Compare(string? x, string? y)
    {
        if (ReferenceEquals(x, y)) return 0;
        if (x is null) return -1;
        if (y is null) return 1;
        return Encoding.UTF8.GetBytes(x).AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes(y));
    }
}
