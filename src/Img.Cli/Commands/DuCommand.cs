using Img.Cli.Framework;
using Img.Cli.Output;

namespace Img.Cli.Commands;

public sealed class DuCommand : Command
{
    public override string Name => "du";
    public override string Short => "Show image disk usage.";
    public override string Use => "du [OPTIONS]";
    public override bool NeedsUserNamespace => true;
    public override IReadOnlyList<Flag> Flags { get; } =
        [new("filter", 'f', FlagKind.List, "Filter output based on conditions provided")];

    public override async Task<int> RunAsync(CommandContext context, ParsedArgs args, CancellationToken ct)
    {
        if (args.Positionals.Count > 0) throw new UsageException("no arguments expected");
        var filters = args.List("filter").Select(CacheFilter.Parse).ToList();
        using var store = context.OpenStore();
        var rows = (await Build.BuildCacheRecords.ListAsync(store, ct))
            .Where(x => filters.Count == 0 || filters.Any(f => f.Matches(x.Record, x.InUse)))
            .ToList();
        CacheTable.WriteRecords(context, rows);
        if (filters.Count == 0)
        {
            long reclaimable = rows.Where(x => !x.InUse && x.Record.Size > 0).Sum(x => x.Record.Size);
            long total = rows.Where(x => x.Record.Size > 0).Sum(x => x.Record.Size);
            context.Out.Write(new TabWriter()
                .Row("Reclaimable:", Units.BytesSize(reclaimable))
                .Row("Total:", Units.BytesSize(total)).ToString());
        }
        return 0;
    }
}
