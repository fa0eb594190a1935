using System.Globalization;

namespace Img.Cli.Output;

/// <summary>Sizes and ages formatted as docker's go-units does (<c>1.573KiB</c>, <c>5 seconds</c>).</summary>
public static class Units
{
    private static readonly string[] BinaryAbbrs = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

    public static string BytesSize(double size)
    {
        int i = 0;
        while (size >= 1024 && i < BinaryAbbrs.Length - 1)
        {
            size /= 1024;
            i++;
        }
        return size.ToString("G4", CultureInfo.InvariantCulture) + BinaryAbbrs[i];
    }

    public static string HumanDuration(TimeSpan d)
    {
        int seconds = (int)d.TotalSeconds;
        if (seconds < 1) return "Less than a second";
        if (seconds == 1) return "1 second";
        if (seconds < 60) return $"{seconds} seconds";
        int minutes = (int)d.TotalMinutes;
        if (minutes == 1) return "About a minute";
        if (minutes < 60) return $"{minutes} minutes";
        int hours = (int)Math.Round(d.TotalHours, MidpointRounding.AwayFromZero);
        if (hours == 1) return "About an hour";
        if (hours < 48) return $"{hours} hours";
        if (hours < 24 * 7 * 2) return $"{hours / 24} days";
        if (hours < 24 * 30 * 2) return $"{hours / 24 / 7} weeks";
        if (hours < 24 * 365 * 2) return $"{hours / 24 / 30} months";
        return $"{(int)d.TotalHours / 24 / 365} years";
    }
}
