using Img.Content;
using Img.Oci;

namespace Img.Build.CacheSharing;

/// <summary>
/// The cache maps read from every <c>--cache-from</c>, by key (the first source naming a key wins). A step found
/// here is restored lazily: only then is its layer blob fetched, verified, and applied onto the parent snapshot.
/// </summary>
internal sealed class ImportedCache
{
    private readonly Dictionary<string, (CacheEntry Entry, CacheSource Source)> _entries = new(StringComparer.Ordinal);

    public static ImportedCache Empty { get; } = new();

    public int Count => _entries.Count;

    public void Add(CacheConfig config, CacheSource source)
    {
        foreach (var entry in config.Records) _entries.TryAdd(entry.Key, (entry, source));
    }

    /// <summary>
    /// Restores step <paramref name="key"/> as snapshot <paramref name="name"/> on <paramref name="parent"/>; null when
    /// no usable source has it. A source that fails gets one warning on <paramref name="step"/> and is not asked again.
    /// </summary>
    public async Task<SolvedStep?> RestoreAsync(string key, string parentKey, string? parent, string name, string description,
        LocalStore store, SnapshotWork snapshots, BaseImages images, StepReporter step, CancellationToken ct)
    {
        if (!_entries.TryGetValue(key, out var found) || found.Source.Broken) return null;
        var (entry, source) = found;
        try
        {
            StepOutcome outcome;
            if (entry.Layer is { } l)
            {
                var blob = l.ToDescriptor();
                await source.FetchAsync(blob, store.Content, ct).ConfigureAwait(false);
                // Applies and checks the diff ID, as for a base image's layer.
                await images.UnpackAsync(new LayerRef(blob, Digest.Parse(l.DiffId)), parent, name, ct).ConfigureAwait(false);
                outcome = new StepOutcome { Layer = l.Digest, MediaType = l.MediaType, Size = l.Size, DiffId = l.DiffId };
            }
            else
            {
                var active = SnapshotWork.NewActiveKey();
                await snapshots.Snapshotter.PrepareAsync(active, parent, ct).ConfigureAwait(false);
                await snapshots.CommitAsync(active, name, ct).ConfigureAwait(false);
                outcome = new StepOutcome();
            }
            return new SolvedStep(key, parentKey, description, outcome, entry.Created ?? DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds()));
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            if (source.Break()) step.Log($"WARNING: ignoring cache from {source.Display}: {BuildFailedException.ReasonOf(e)}");
            return null;
        }
    }
}
