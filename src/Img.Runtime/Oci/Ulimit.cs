using System.Globalization;

namespace Img.Runtime.Oci;

/// <summary>
/// One <c>--ulimit NAME=SOFT[:HARD]</c> (docker's syntax; <c>-1</c> is unlimited) for every RUN. An unprivileged
/// build can lower a limit or raise a soft one up to its hard limit, never raise a hard limit beyond this process's.
/// </summary>
public sealed record Ulimit(string Name, ulong Soft, ulong Hard)
{
    private const ulong Unlimited = ulong.MaxValue;

    // docker's names → the OCI rlimit type and the row of /proc/self/limits.
    private static readonly Dictionary<string, (string Type, string Row)> s_known = new(StringComparer.Ordinal)
    {
        ["core"] = ("RLIMIT_CORE", "Max core file size"), ["cpu"] = ("RLIMIT_CPU", "Max cpu time"),
        ["data"] = ("RLIMIT_DATA", "Max data size"), ["fsize"] = ("RLIMIT_FSIZE", "Max file size"),
        ["locks"] = ("RLIMIT_LOCKS", "Max file locks"), ["memlock"] = ("RLIMIT_MEMLOCK", "Max locked memory"),
        ["msgqueue"] = ("RLIMIT_MSGQUEUE", "Max msgqueue size"), ["nice"] = ("RLIMIT_NICE", "Max nice priority"),
        ["nofile"] = ("RLIMIT_NOFILE", "Max open files"), ["nproc"] = ("RLIMIT_NPROC", "Max processes"),
        ["rss"] = ("RLIMIT_RSS", "Max resident set"), ["rtprio"] = ("RLIMIT_RTPRIO", "Max realtime priority"),
        ["rttime"] = ("RLIMIT_RTTIME", "Max realtime timeout"), ["sigpending"] = ("RLIMIT_SIGPENDING", "Max pending signals"),
        ["stack"] = ("RLIMIT_STACK", "Max stack size"),
    };

    /// <summary>The OCI runtime spec's name, e.g. <c>RLIMIT_NOFILE</c>.</summary>
    public string Type => s_known[Name].Type;

    /// <summary>Parses one value and checks it against what this process may set.</summary>
    /// <exception cref="FormatException">Unknown name, bad numbers, soft above hard, or a hard limit above this process's.</exception>
    public static Ulimit Parse(string value)
    {
        var eq = value.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0) throw new FormatException($"invalid ulimit argument: {value}");
        var name = value[..eq];
        if (!s_known.TryGetValue(name, out var known)) throw new FormatException($"invalid ulimit type: {name}");
        var limits = value[(eq + 1)..].Split(':');
        if (limits.Length > 2) throw new FormatException($"too many limit value arguments - {value[(eq + 1)..]}, can only have up to two, `soft[:hard]`");
        var soft = Number(limits[0], value);
        var hard = limits.Length == 2 ? Number(limits[1], value) : soft;
        if (soft > hard) throw new FormatException($"ulimit soft limit must be less than or equal to hard limit: {limits[0]} > {limits[1]}");
        if (HostHard(known.Row) is { } max && hard > max)
            throw new FormatException($"ulimit {name}: hard limit {limits[^1]} is above this user's {(max == Unlimited ? "unlimited" : max.ToString(CultureInfo.InvariantCulture))}; an unprivileged build cannot raise it");
        return new Ulimit(name, soft, hard);
    }

    private static ulong Number(string text, string value) =>
        text == "-1" ? Unlimited
        : ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n
        : throw new FormatException($"invalid ulimit argument: {value}");

    /// <summary>This process's hard limit from /proc/self/limits, or null when it cannot be read.</summary>
    private static ulong? HostHard(string row)
    {
        try
        {
            var line = File.ReadLines("/proc/self/limits").FirstOrDefault(l => l.StartsWith(row, StringComparison.Ordinal));
            if (line is null) return null;
            var hard = line[row.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
            return hard == "unlimited" ? Unlimited : ulong.TryParse(hard, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;
        }
        catch (IOException) { return null; }
    }
}
