namespace Img.Runtime.Namespaces;

/// <summary>One line of /etc/subuid or /etc/subgid: <c>Count</c> host ids starting at <c>Start</c>.</summary>
public readonly record struct SubordinateRange(long Start, long Count)
{
    public override string ToString() => $"{Start}:{Count}";
}

/// <summary>Reads a user's subordinate id ranges (shadow-utils format <c>name-or-id:start:count</c>).</summary>
public static class SubordinateIds
{
    /// <summary>Every range in <paramref name="file"/> whose owner field is <paramref name="userName"/> or <paramref name="id"/>.</summary>
    public static IReadOnlyList<SubordinateRange> Read(string file, string? userName, uint id)
    {
        if (!File.Exists(file)) return [];
        var ranges = new List<SubordinateRange>();
        foreach (var raw in File.ReadLines(file))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            var parts = line.Split(':');
            if (parts.Length != 3) continue;
            bool owner = (userName is { Length: > 0 } && parts[0] == userName) || parts[0] == id.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (!owner) continue;
            if (long.TryParse(parts[1], out var start) && long.TryParse(parts[2], out var count) && start >= 0 && count > 0)
                ranges.Add(new SubordinateRange(start, count));
        }
        return ranges;
    }

    /// <summary>The range a namespace maps: the largest (the first of equals).</summary>
    public static SubordinateRange? Largest(IReadOnlyList<SubordinateRange> ranges) =>
        ranges.Count == 0 ? null : ranges.Aggregate((best, r) => r.Count > best.Count ? r : best);
}
