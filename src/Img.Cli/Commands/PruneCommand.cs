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
        // What killed builds left (active snapshots, bundles, runtime states, mount dirs) goes first.
        await Build.StaleWork.ReclaimAsync(context.StateDir);
        using var store = context.OpenStore();
        var imageBlobs = await CacheTable.ImageBlobsAsync(store, ct);
        var removed = new List<(Content.CacheRecord, bool)>();
        // Records backing a stored image are kept, as the original's prune does.
        var candidates = store.Metadata.ListCacheRecords()
            .Where(r => !(r.Blobs.Count > 0 && r.Blobs.All(imageBlobs.Contains)))
            .ToList();
        // A snapshot that is another's parent goes only after its children: repeat while anything goes.
        bool progress = true;
        while (progress && candidates.Count > 0)
        {
            progress = false;
            foreach (var record in candidates.ToList())
            {
                if (!await Build.BuildCache.RemoveRecordArtifactsAsync(context.StateDir, record, ct)) continue;
                if (store.Metadata.DeleteCacheRecord(record.Key)) removed.Add((record, false));
                candidates.Remove(record);
                progress = true;
            }
        }
        // Blobs stay while a stored image reaches them; everything else the records held goes.
        var gc = await store.CollectGarbageAsync(ct: ct);
        context.Log($"garbage collection removed {gc.BlobsRemoved} blobs ({gc.BytesFreed} bytes)");
        CacheTable.WriteRecords(context, removed);
        long reclaimed = removed.Where(x => !x.Item2).Sum(x => x.Item1.Size);
        long total = removed.Sum(x => x.Item1.Size);
        context.Out.Write(new TabWriter()
            .Row("Reclaimed:", Units.BytesSize(reclaimed))
            .Row("Total:", Units.BytesSize(total)).ToString());
        return 0;
    }
}
