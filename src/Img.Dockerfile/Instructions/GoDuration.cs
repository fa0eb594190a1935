using System.Globalization;

namespace Img.Dockerfile;

/// <summary>Go's <c>time.ParseDuration</c> (e.g. <c>1h30m</c>, <c>1.5s</c>, <c>300ms</c>), used by HEALTHCHECK options.</summary>
public static class GoDuration
{
    /// <summary>Parses a duration; throws <see cref="DockerfileException"/> with Go's message when invalid.</summary>
    public static TimeSpan Parse(string s)
    {
        var orig = s;
        var negative = false;
        if (s.Length > 0 && s[0] is '-' or '+')
        {
            negative = s[0] == '-';
            s = s[1..];
        }
        if (s == "0")
            return TimeSpan.Zero;
        if (s.Length == 0)
            throw Invalid(orig);
        decimal totalNs = 0;
        while (s.Length > 0)
        {
            var i = 0;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.'))
                i++;
            if (i == 0 || s[..i] == "." || !decimal.TryParse(s[..i], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
                throw Invalid(orig);
            s = s[i..];
            var u = 0;
            while (u < s.Length && !char.IsAsciiDigit(s[u]) && s[u] != '.')
                u++;
            if (u == 0)
                throw new DockerfileException($"time: missing unit in duration {GoQuote.Quote(orig)}");
            var unitNs = s[..u] switch
            {
                "ns" => 1m,
                "us" or "µs" or "μs" => 1_000m,
                "ms" => 1_000_000m,
                "s" => 1_000_000_000m,
                "m" => 60_000_000_000m,
                "h" => 3_600_000_000_000m,
                var unit => throw new DockerfileException($"time: unknown unit {GoQuote.Quote(unit)} in duration {GoQuote.Quote(orig)}"),
            };
            s = s[u..];
            totalNs += number * unitNs;
            if (totalNs > long.MaxValue)
                throw new DockerfileException($"time: invalid duration {GoQuote.Quote(orig)}");
        }
        var ticks = (long)(totalNs / 100m);
        return negative ? TimeSpan.FromTicks(-ticks) : TimeSpan.FromTicks(ticks);
    }

    private static DockerfileException Invalid(string s) => new($"time: invalid duration {GoQuote.Quote(s)}");
}
