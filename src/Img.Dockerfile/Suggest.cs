namespace Img.Dockerfile;

/// <summary>"did you mean ...?" hints based on edit distance, as BuildKit's suggest package gives them.</summary>
public static class Suggest
{
    /// <summary>Closest option within a small edit distance, or null when none is close or <paramref name="value"/> matches exactly.</summary>
    public static string? Closest(string value, IEnumerable<string> options, bool caseSensitive = false)
    {
        var v = caseSensitive ? value : value.ToLowerInvariant();
        string? best = null;
        var bestDistance = 3; // further away than two edits is no longer a typo
        foreach (var option in options)
        {
            var o = caseSensitive ? option : option.ToLowerInvariant();
            if (o == v)
                return null;
            var d = Levenshtein(v, o);
            if (d < bestDistance)
            {
                bestDistance = d;
                best = option;
            }
        }
        return best;
    }

    /// <summary>Appends " (did you mean X?)" to <paramref name="message"/> when a close option exists.</summary>
    public static string Wrap(string message, string value, IEnumerable<string> options, bool caseSensitive = false)
    {
        var match = Closest(value, options, caseSensitive);
        return match is null ? message : $"{message} (did you mean {match}?)";
    }

    /// <summary>Classic Levenshtein distance.</summary>
    public static int Levenshtein(string a, string b)
    {
        var prev = new int[b.Length + 1];
        var cur = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
            prev[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                cur[j] = Math.Min(Math.Min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            (prev, cur) = (cur, prev);
        }
        return prev[b.Length];
    }
}
