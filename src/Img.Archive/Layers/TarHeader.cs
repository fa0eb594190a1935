namespace Img.Archive.Layers;

/// <summary>The kind of a tar entry (the ustar typeflag, reduced to what layers carry).</summary>
public enum TarEntryKind
{
    /// <summary>A regular file ('0', '\0' or '7').</summary>
    File,
    /// <summary>A hard link to an earlier entry ('1').</summary>
    HardLink,
    /// <summary>A symbolic link ('2').</summary>
    Symlink,
    /// <summary>A character device ('3').</summary>
    CharDevice,
    /// <summary>A block device ('4').</summary>
    BlockDevice,
    /// <summary>A directory ('5').</summary>
    Directory,
    /// <summary>A named pipe ('6').</summary>
    Fifo,
}

/// <summary>
/// One tar entry's header. Names are relative, '/'-separated, without a leading "./" or a trailing '/'.
/// Xattr values are raw bytes: security.capability is binary and must survive the round trip,
/// which is why layers use this reader and writer rather than System.Formats.Tar (its PAX values are strings).
/// </summary>
public sealed class TarHeader
{
    /// <summary>The path inside the layer.</summary>
    public required string Name { get; set; }
    /// <summary>What the entry is.</summary>
    public TarEntryKind Kind { get; set; }
    /// <summary>Permission bits plus setuid/setgid/sticky (07777).</summary>
    public uint Mode { get; set; }
    /// <summary>Owner id as recorded in the layer.</summary>
    public long Uid { get; set; }
    /// <summary>Group id as recorded in the layer.</summary>
    public long Gid { get; set; }
    /// <summary>The number of content bytes (regular files only).</summary>
    public long Size { get; set; }
    /// <summary>Modification time, seconds since the epoch.</summary>
    public long MtimeSec { get; set; }
    /// <summary>Nanoseconds of the modification time (from a PAX mtime; the writer drops them).</summary>
    public uint MtimeNsec { get; set; }
    /// <summary>Symlink target, or the path a hard link points to.</summary>
    public string LinkName { get; set; } = "";
    /// <summary>Device major number.</summary>
    public uint DevMajor { get; set; }
    /// <summary>Device minor number.</summary>
    public uint DevMinor { get; set; }
    /// <summary>Extended attributes (PAX SCHILY.xattr.*), by name.</summary>
    public SortedDictionary<string, byte[]> Xattrs { get; } = new(StringComparer.Ordinal);

    /// <summary>OCI whiteout prefix: ".wh.NAME" deletes NAME from the layers below.</summary>
    public const string WhiteoutPrefix = ".wh.";
    /// <summary>OCI opaque marker: "DIR/.wh..wh..opq" hides everything below DIR from lower layers.</summary>
    public const string OpaqueMarker = ".wh..wh..opq";
    /// <summary>Prefix of aufs metadata names (".wh..wh.plnk" and friends) that are not whiteouts.</summary>
    public const string WhiteoutMetaPrefix = ".wh..wh.";

    /// <summary>The last path component.</summary>
    public string BaseName => Name[(Name.LastIndexOf('/') + 1)..];

    /// <summary>The parent path ("" for top-level entries).</summary>
    public string ParentName => Name.LastIndexOf('/') is var i && i >= 0 ? Name[..i] : "";

    /// <inheritdoc />
    public override string ToString() => $"{Kind} {Name}";
}
