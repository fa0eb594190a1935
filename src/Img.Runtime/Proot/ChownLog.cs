using System.Globalization;
using System.Text;
using Img.Fs;

namespace Img.Runtime.Proot;

/// <summary>
/// The owner changes a RUN step made under proot as an ordinary user, read from proot's own trace (<c>-v 3</c> names
/// every system call and the host path it translated): proot's fake root makes chown succeed and change nothing, so img
/// records what the step asked for. Lines of the trace arrive on proot's stderr (the step's own stderr is sent to its
/// stdout); the changes are applied only after the step has ended, each path checked to lie in the rootfs with no
/// symlink on the way, so a line the step forged can at most record an owner for a file of its own rootfs — what a
/// chown in a user namespace could do anyway. A change through a file descriptor (fchown) names no path: it is
/// counted and warned about once. A device node (mknod, which proot fakes without making it) becomes an empty file
/// whose record says which device it is, as a base layer's devices are kept.
/// </summary>
internal sealed class ChownLog(string rootfs)
{
    private const string Prefix = "proot info: pid ";
    private static readonly string[] PathCalls = ["chown(", "lchown(", "fchownat(", "mknod(", "mknodat("];
    private readonly Dictionary<int, Change> _pending = [];
    private readonly List<(string Path, Change Change)> _changes = [];

    /// <summary>An owner change (<see cref="Device"/> null) or a device node to keep.</summary>
    private readonly record struct Change(uint Uid, uint Gid, OwnerRecord? Device);

    /// <summary>fchown calls seen (no path to record).</summary>
    public int Unrecorded { get; private set; }

    /// <summary>Reads one line of proot's stderr; returns the line when it is not part of the trace (proot's warnings and errors).</summary>
    public string? Read(string line)
    {
        if (!line.StartsWith(Prefix, StringComparison.Ordinal)) return line.StartsWith("proot info:", StringComparison.Ordinal) ? null : line;
        var colon = line.IndexOf(':', Prefix.Length);
        if (colon < 0 || !int.TryParse(line.AsSpan(Prefix.Length, colon - Prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) return null;
        var rest = line.AsSpan(colon + 1).TrimStart();
        if (rest.StartsWith("sysenter start: "))
        {
            var call = rest["sysenter start: ".Length..];
            _pending.Remove(pid);
            if (call.StartsWith("fchown(")) { Unrecorded++; return null; }
            foreach (var name in PathCalls)
            {
                if (!call.StartsWith(name)) continue;
                var args = Args(call[name.Length..]);
                // The first argument after the path: fchownat and mknodat take a directory descriptor first.
                var first = name is "fchownat(" or "mknodat(" ? 2 : 1;
                if (args.Count <= first + 1) break;
                if (name.StartsWith("mknod", StringComparison.Ordinal))
                {
                    var mode = (uint)args[first];
                    if ((mode & Native.S_IFMT) is Native.S_IFCHR or Native.S_IFBLK)
                    {
                        var dev = args[first + 1];
                        var major = (uint)(((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfffUL));
                        var minor = (uint)((dev & 0xff) | ((dev >> 12) & ~0xffUL));
                        _pending[pid] = new Change(0, 0, new OwnerRecord(0, 0, mode & (Native.S_IFMT | 0xFFF), major, minor));
                    }
                }
                else _pending[pid] = new Change(Id(args[first]), Id(args[first + 1]), null);
                break;
            }
            return null;
        }
        if (rest.StartsWith("-> \"") && _pending.Remove(pid, out var change))
        {
            var path = rest[4..];
            var end = path.LastIndexOf('"');
            if (end > 0) _changes.Add((path[..end].ToString(), change));
        }
        return null;
    }

    private static uint Id(ulong value) => (uint)(value & 0xFFFF_FFFF);

    /// <summary>Records every change seen, in order, on files still in the rootfs; returns how many were recorded.</summary>
    public int Apply()
    {
        int recorded = 0;
        foreach (var (path, (uid, gid, device)) in _changes)
        {
            if (device is { } node)
            {
                if (MakeDeviceFile(path, node)) recorded++;
                continue;
            }
            if (!InsideWithoutLinks(path)) continue;
            var old = OwnerRecord.Read(path);
            // -1 leaves that id as it was.
            var u = uid == uint.MaxValue ? old?.Uid ?? 0 : uid;
            var g = gid == uint.MaxValue ? old?.Gid ?? 0 : gid;
            if (OwnerRecord.WriteOwner(path, u, g)) recorded++;
        }
        return recorded;
    }

    /// <summary>The device node proot pretended to make, as an empty file with its record; false when something is there.</summary>
    private bool MakeDeviceFile(string path, OwnerRecord node)
    {
        var parent = Path.GetDirectoryName(path);
        if (parent is null || !InsideWithoutLinks(parent + "/.") || Native.Lstat(path) is not null) return false;
        var fd = Native.OpenAt(Native.AT_FDCWD, path, Native.O_WRONLY | Native.O_CREAT | Native.O_EXCL | Native.O_NOFOLLOW, 0b110_000_000);
        if (fd < 0) return false;
        Native.Close(fd);
        return OwnerRecord.Write(path, node);
    }

    private bool InsideWithoutLinks(string path)
    {
        var root = rootfs.TrimEnd('/');
        if (!path.StartsWith(root + "/", StringComparison.Ordinal) || path.Contains("/../", StringComparison.Ordinal) || path.EndsWith("/..", StringComparison.Ordinal)) return false;
        // Every directory on the way is a real directory (the final name may be a link: lchown).
        var parts = path[(root.Length + 1)..].Split('/', StringSplitOptions.RemoveEmptyEntries);
        var current = new StringBuilder(root);
        for (int i = 0; i < parts.Length - 1; i++)
        {
            current.Append('/').Append(parts[i]);
            if (Native.Lstat(current.ToString()) is not { IsDir: true }) return false;
        }
        return parts.Length > 0 && Native.Lstat(path) is not null;
    }

    /// <summary>The hex arguments of a traced call, <c>0x1, 0x2, …)</c>.</summary>
    private static List<ulong> Args(ReadOnlySpan<char> text)
    {
        var close = text.IndexOf(')');
        var list = new List<ulong>();
        foreach (var part in (close < 0 ? text : text[..close]).ToString().Split(','))
        {
            var p = part.Trim();
            if (p.StartsWith("0x", StringComparison.Ordinal)) p = p[2..];
            list.Add(ulong.TryParse(p, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var v) ? v : 0);
        }
        return list;
    }
}
