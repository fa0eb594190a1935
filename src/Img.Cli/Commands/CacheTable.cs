using Img.Cli.Framework;
using Img.Cli.Output;
using Img.Content;

namespace Img.Cli.Commands;

/// <summary>The build-cache table that <c>du</c> and <c>prune</c> print, in the original's columns.</summary>
internal static class CacheTable
{
    public static void WriteRecords(CommandContext context, IEnumerable<Build.CacheUsage> records)
    {
        if (context.Debug)
        {
            foreach (var (r, inUse) in records)
            {
                var sb = new TabWriter();
                sb.Row("ID:", r.Key);
                if (r.Parent is not null) sb.Row("Parent:", r.Parent);
                sb.Row("Created at:", r.CreatedAt.ToString("yyyy-MM-dd HH:mm:ss.fffffff zzz", System.Globalization.CultureInfo.InvariantCulture));
                sb.Row("Mutable:", "false");
                sb.Row("Reclaimable:", (!inUse).ToString().ToLowerInvariant());
                sb.Row("Size:", Units.BytesSize(r.Size));
                if (r.Description.Length > 0) sb.Row("Description:", r.Description);
                sb.Row("Usage count:", r.UsageCount.ToString(System.Globalization.CultureInfo.InvariantCulture));
                sb.Row("Last used:", Units.HumanDuration(DateTimeOffset.UtcNow - r.LastUsed) + " ago");
                context.Out.Write(sb.ToString());
                context.Out.WriteLine();
            }
            return;
        }
        var table = new TabWriter().Row("ID", "RECLAIMABLE", "SIZE", "DESCRIPTION");
        foreach (var (r, inUse) in records)
        {
            string desc = r.Description.Length > 50 ? r.Description[..50] + "..." : r.Description;
            table.Row(r.Key, (!inUse).ToString().ToLowerInvariant(), Units.BytesSize(r.Size), desc);
        }
        context.Out.Write(table.ToString());
    }
}
