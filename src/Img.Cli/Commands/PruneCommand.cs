using Img.Cli.Framework;
using Img.Cli.Output;

namespace Img.Cli.Commands;

public sealed class PruneCommand : Command
{
    public override string Name => "prune";
    public override string Short => "Prune and clean up the build cache.";
    public override string Use => "prune [OPTIONS]";
    public override bool NeedsUserNamespace => true;

    public override async Task<int> RunAsync(CommandContext context, ParsedArgs args, CancellationToken ct)
    {
        if (args.Positionals.Count > 0) throw new UsageException("no arguments expected");
        using var store = context.OpenStore();
        var pruned = await Build.BuildCacheRecords.PruneAsync(store, ct);
        context.Log($"garbage collection removed {pruned.Collected.BlobsRemoved} blobs ({pruned.Collected.BytesFreed} bytes)");
        var removed = pruned.Removed.Select(r => new Build.CacheUsage(r, false)).ToList();
        CacheTable.WriteRecords(context, removed);
        long reclaimed = pruned.Removed.Sum(r => r.Size);
        context.Out.Write(new TabWriter()
            .Row("Reclaimed:", Units.BytesSize(reclaimed))
            .Row("Total:", Units.BytesSize(reclaimed)).ToString());
        return 0;
    }
}
