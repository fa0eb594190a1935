using System.Globalization;
using Img.Runtime.Interop;

namespace Img.Runtime.Snapshots;

/// <summary>
/// The process that created a piece of work (an active snapshot, a bundle, a runtime state): its pid and
/// its start time in clock ticks (field 22 of /proc/&lt;pid&gt;/stat), so a reused pid does not pass for it.
/// Written as <c>pid.starttime</c>.
/// </summary>
public readonly record struct ProcessOwner(int Pid, long StartTime)
{
    /// <summary>This process.</summary>
    public static ProcessOwner Current { get; } = new(Environment.ProcessId, StartTimeOf(Environment.ProcessId) ?? 0);

    /// <summary>True while the process runs (a zombie counts as gone: it does nothing more).</summary>
    public bool IsAlive()
    {
        if (Pid == Environment.ProcessId) return true;
        var stat = ReadStat(Pid);
        return stat is { } s && s.StartTime == StartTime && s.State is not ('Z' or 'X');
    }

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Pid}.{StartTime}");

    /// <summary>Parses <see cref="ToString"/>'s form; false for anything else.</summary>
    public static bool TryParse(string text, out ProcessOwner owner)
    {
        owner = default;
        var dot = text.IndexOf('.');
        if (dot <= 0) return false;
        if (!int.TryParse(text.AsSpan(0, dot), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ||
            !long.TryParse(text.AsSpan(dot + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var start)) return false;
        owner = new ProcessOwner(pid, start);
        return true;
    }

    private static long? StartTimeOf(int pid) => ReadStat(pid)?.StartTime;

    private static (char State, long StartTime)? ReadStat(int pid)
    {
        string text;
        try { text = File.ReadAllText($"/proc/{pid}/stat"); }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
        // pid (comm) state ppid … starttime: comm may hold spaces and parentheses, so split after the last ')'.
        var close = text.LastIndexOf(')');
        if (close < 0 || close + 2 >= text.Length) return null;
        var rest = text[(close + 2)..].Split(' ');
        if (rest.Length < 20 || !long.TryParse(rest[19], NumberStyles.None, CultureInfo.InvariantCulture, out var start)) return null;
        return (rest[0][0], start);
    }
}

/// <summary>Detaches mounts a dead process left in this mount namespace.</summary>
public static class StaleMounts
{
    /// <summary>
    /// Lazily unmounts (MNT_DETACH) every mount at or below <paramref name="dir"/> listed in /proc/self/mountinfo,
    /// deepest first, so the directory can be deleted without reaching into a mounted tree.
    /// </summary>
    public static void DetachUnder(string dir)
    {
        var prefix = Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir));
        List<string> targets;
        try
        {
            targets = File.ReadLines("/proc/self/mountinfo")
                .Select(l => l.Split(' '))
                .Where(f => f.Length > 4)
                .Select(f => Unescape(f[4]))
                .Where(t => t == prefix || t.StartsWith(prefix + "/", StringComparison.Ordinal))
                .Distinct()
                .OrderByDescending(t => t.Length)
                .ToList();
        }
        catch (IOException) { return; }
        foreach (var t in targets)
            for (int i = 0; i < 16 && Libc.Umount2(t, Libc.MNT_DETACH) == 0; i++) { }
    }

    // mountinfo escapes space, tab, newline and backslash as \ooo.
    private static string Unescape(string s)
    {
        if (!s.Contains('\\')) return s;
        var sb = new System.Text.StringBuilder(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && i + 3 < s.Length &&
                int.TryParse(s.AsSpan(i + 1, 3), NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                sb.Append((char)Convert.ToInt32(s.Substring(i + 1, 3), 8));
                i += 3;
            }
            else sb.Append(s[i]);
        }
        return sb.ToString();
    }
}
