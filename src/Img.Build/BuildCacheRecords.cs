using Img.Content;

namespace Img.Build;

/// <summary>A build-cache record and whether it is in use: a stored image needs every blob it holds.</summary>
public sealed record CacheUsage(CacheRecord Record, bool InUse);

/// <summary>What <c>img prune</c> removed: the records (with their snapshots) and the blobs nothing reaches any more.</summary>
public sealed record PruneResult(IReadOnlyList<CacheRecord> Removed, GcResult Collected);

/// <summary>The build cache as <c>du</c> and <c>prune</c> see it, over the store's records and images.</summary>
public static class BuildCacheRecords
{
    /// <summary>Every record, in use or not.</summary>
    public static async Task<IReadOnlyList<CacheUsage>> ListAsync(LocalStore store, CancellationToken ct)
    {
        var imageBlobs = await store.ImageBlobsAsync(ct).ConfigureAwait(false);
        return [.. store.Metadata.ListCacheRecords().Select(r => new CacheUsage(r, InUse(r, imageBlobs)))];
    }

    /// <summary>
    /// Removes what killed builds left, then every record not in use (as the original's prune keeps records backing a
    /// stored image) with its snapshot, then the blobs nothing reaches. Call inside the user namespace.
    /// </summary>
    public static async Task<PruneResult> PruneAsync(LocalStore store, CancellationToken ct)
    {
        await new StaleWork(store.StateDir).ReclaimAsync().ConfigureAwait(false);
        var imageBlobs = await store.ImageBlobsAsync(ct).ConfigureAwait(false);
        var candidates = store.Metadata.ListCacheRecords().Where(r => !InUse(r, imageBlobs)).ToList();
        var removed = new List<CacheRecord>();
        // A snapshot that is another's parent goes only after its children: repeat while anything goes.
        var progress = true;
        while (progress && candidates.Count > 0)
        {
            progress = false;
            foreach (var record in candidates.ToList())
            {
                if (!await BuildCache.RemoveRecordArtifactsAsync(store.StateDir, record, ct).ConfigureAwait(false)) continue;
                if (store.Metadata.DeleteCacheRecord(record.Key)) removed.Add(record);
                candidates.Remove(record);
                progress = true;
            }
        }
        // Blobs stay while a stored image reaches them; everything else the records held goes.
        var collected = await store.CollectGarbageAsync(ct: ct).ConfigureAwait(false);
        return new PruneResult(removed, collected);
    }

    private static bool InUse(CacheRecord record, IReadOnlyDictionary<Img.Oci.Digest, IReadOnlyList<string>> imageBlobs) =>
        record.Blobs.Count > 0 && record.Blobs.All(imageBlobs.ContainsKey);
}
