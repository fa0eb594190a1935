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
/// counted and warned about once.
/// </summary>
internal sealed class ChownLog(string rootfs)
{
    private const string Prefix = "proot info: pid ";
    private static readonly string[] PathCalls = ["chown(", "lchown(", "fchownat("];
    private readonly Dictionary<int, (uint Uid, uint Gid)> _pending = [];
    private readonly List<(string Path, uint Uid, uint Gid)> _changes = [];

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
                var (u, g) = name == "fchownat(" ? (2, 3) : (1, 2);
                if (args.Count > g) _pending[pid] = (args[u], args[g]);
                break;
            }
            return null;
        }
        if (rest.StartsWith("-> \"") && _pending.Remove(pid, out var owner))
        {
            var path = rest[4..];
            var end = path.LastIndexOf('"');
            if (end > 0) _changes.Add((path[..end].ToString(), owner.Uid, owner.Gid));
        }
        return null;
    }

    /// <summary>Records every change seen, in order, on files still in the rootfs; returns how many were recorded.</summary>
    public int Apply()
    {
        int recorded = 0;
        foreach (var (path, uid, gid) in _changes)
        {
            if (!InsideWithoutLinks(path)) continue;
            var old = OwnerRecord.Read(path);
            // -1 leaves that id as it was.
            var u = uid == uint.MaxValue ? old?.Uid ?? 0 : uid;
            var g = gid == uint.MaxValue ? old?.Gid ?? 0 : gid;
            if (OwnerRecord.WriteOwner(path, u, g)) recorded++;
        }
        return recorded;
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

    /// <summary>The hex arguments of a traced call, <c>0x1, 0x2, …)</c>, as 32-bit ids (-1 stays 0xffffffff).</summary>
    private static List<uint> Args(ReadOnlySpan<char> text)
    {
        var close = text.IndexOf(')');
        var list = new List<uint>();
        foreach (var part in (close < 0 ? text : text[..close]).ToString().Split(','))
        {
            var p = part.Trim();
            if (p.StartsWith("0x", StringComparison.Ordinal)) p = p[2..];
            list.Add(ulong.TryParse(p, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var v) ? (uint)(v & 0xFFFF_FFFF) : 0);
        }
        return list;
    }
}
