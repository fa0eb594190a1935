using Img.Content;
using Img.Oci;
using Img.Runtime.Snapshots;

namespace Img.Build;

/// <summary>One thing a store check found, and what it did about it.</summary>
/// <param name="Subject">What is affected: a blob digest, an image name, a cache record, the database file.</param>
/// <param name="Finding">What was wrong and what was done (or what the user should do).</param>
public sealed record StoreFinding(string Subject, string Finding);

/// <summary>The outcome of <see cref="StoreCheck.RunAsync"/>.</summary>
public sealed record StoreCheckReport(IReadOnlyList<StoreFinding> Findings, int BlobsChecked, long BytesChecked, int Images, int CacheRecords)
{
    public bool Clean => Findings.Count == 0;
}

/// <summary>
/// Checks and repairs a whole state directory (containerd's <c>ctr content … verify</c>, and more): the metadata
/// database's pages (a damaged one is moved aside and rebuilt from what it still holds), every blob against its
/// digest (damaged ones are removed, so a pull fetches them again), every image's blobs (what an image lost is
/// named), and every build-cache record's snapshot chain and blobs (a record whose snapshot is gone is dropped,
/// so the step simply runs again).
/// </summary>
public static class StoreCheck
{
    public static async Task<StoreCheckReport> RunAsync(string stateDir, CancellationToken ct)
    {
        var findings = new List<StoreFinding>();
        MetadataCheck db;
        using (LocalStore.Open(stateDir)) { } // creates a missing state directory as every command does
        // With the lock garbage collection takes: no other img process has the database open while it may move.
        using (StateLock.Exclusive(Path.Combine(stateDir, "gc.lock")))
            db = MetadataRecovery.CheckAndRepair(Path.Combine(stateDir, "metadata.db"));
        if (db.Damage is not null)
            findings.Add(new StoreFinding("metadata.db",
                $"damaged ({db.Damage}): moved to {db.MovedTo}; {db.ImagesRecovered} image records recovered, {db.CacheRecordsDropped} build-cache records dropped"));

        using var store = LocalStore.Open(stateDir);
        var (blobs, bytes) = await VerifyBlobsAsync(store.Content, findings, ct).ConfigureAwait(false);
        var images = store.Metadata.ListImages();
        foreach (var image in images)
            foreach (var lost in await LostBlobsAsync(store.Content, image.Target, ct).ConfigureAwait(false))
                findings.Add(new StoreFinding(image.Name, $"lost {lost}: pull or build the image again"));
        var records = store.Metadata.ListCacheRecords();
        foreach (var record in records)
        {
            if (WhyUnusable(stateDir, store.Content, record) is not { } why) continue;
            store.Metadata.DeleteCacheRecord(record.Key);
            findings.Add(new StoreFinding("cache record " + record.Key[..Math.Min(12, record.Key.Length)], $"{why}: record dropped (the step runs again)"));
        }
        return new StoreCheckReport(findings, blobs, bytes, images.Count, records.Count);
    }

    private static async Task<(int Count, long Bytes)> VerifyBlobsAsync(ContentStore content, List<StoreFinding> findings, CancellationToken ct)
    {
        int count = 0;
        long bytes = 0;
        foreach (var digest in content.List().ToList())
        {
            count++;
            try
            {
                await using var blob = content.OpenRead(digest);
                bytes += blob.Length;
                await blob.VerifyToEndAsync(ct).ConfigureAwait(false);
            }
            catch (CorruptBlobException e)
            {
                findings.Add(new StoreFinding(digest.ToString(), $"damaged ({e.Why}): removed"));
            }
            catch (BlobNotFoundException)
            {
                // Removed since the listing (a concurrent garbage collection): nothing to check.
            }
        }
        return (count, bytes);
    }

    /// <summary>
    /// The blobs an image needs and the store lacks: its root, and for each stored manifest its config and layers
    /// (an index's manifests for other platforms are not pulled, and that is no loss).
    /// </summary>
    private static async Task<List<string>> LostBlobsAsync(ContentStore content, Descriptor root, CancellationToken ct)
    {
        var lost = new List<string>();
        if (!content.Exists(root.Digest))
        {
            lost.Add($"{root.Digest} (its {(MediaTypes.IsIndex(root.MediaType) ? "index" : "manifest")})");
            return lost;
        }
        var pending = new Stack<Descriptor>([root]);
        while (pending.Count > 0)
        {
            var d = pending.Pop();
            IReadOnlyList<Descriptor> children;
            try { children = await ContentWalker.ChildrenAsync(content, d, ct).ConfigureAwait(false); }
            catch (Exception e) when (e is ContentException or FormatException)
            {
                lost.Add($"{d.Digest} ({e.Message})");
                continue;
            }
            foreach (var c in children)
            {
                if (content.Exists(c.Digest)) pending.Push(c);
                else if (MediaTypes.IsManifest(d.MediaType) && c.Urls is not { Count: > 0 })
                    lost.Add($"{c.Digest} ({(c == children[0] ? "config" : "layer")})");
            }
        }
        return lost;
    }

    /// <summary>Why a cache record can no longer serve a build, or null when it can.</summary>
    private static string? WhyUnusable(string stateDir, ContentStore content, CacheRecord record)
    {
        foreach (var blob in record.Blobs)
            if (!content.Exists(blob)) return $"its blob {blob} is gone";
        if (BuildCache.ParseSnapshotRef(record.Snapshot) is not var (backend, first)) return null;
        var snapshotter = backend.Open(stateDir);
        for (var key = first; key is not null;)
        {
            if (snapshotter.Stat(key) is not { } info) return $"snapshot {key} is gone";
            key = info.Parent;
        }
        return null;
    }
}
