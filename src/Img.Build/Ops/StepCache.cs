using System.Collections.Concurrent;
using Img.Build.CacheSharing;
using Img.Build.Graph;
using Img.Content;
using Img.Oci;
using Img.Runtime.Snapshots;

namespace Img.Build;

/// <summary>
/// The build's cache of filesystem steps (exec and file ops), on the metadata store's cache records: a record per
/// step key and backend naming the committed snapshot and the layer, touched on a hit; a step the local store lacks is
/// restored from a <c>--cache-from</c> map when one has it. Every step resolved goes into <see cref="Journal"/> for
/// <c>--cache-to</c>. Sources are not cached here: their loading has a cache of its own (<see cref="BaseImages"/>).
/// </summary>
internal sealed class StepCache(BuildEnv env, StepKeys keys) : ICacheStore
{
    /// <summary>The caches of <c>--cache-from</c>, asked when a step has no usable local record.</summary>
    public ImportedCache Imported { get; init; } = ImportedCache.Empty;

    /// <summary>Every step resolved so far, for <c>--cache-to</c>.</summary>
    public StepJournal Journal { get; } = new();

    private LocalStore Store => env.Store;

    private SnapshotWork Snapshots => env.Snapshots;

    public async ValueTask<IDisposable?> LockAsync(CacheKey key, Vertex vertex, CancellationToken ct) =>
        Caches(vertex) ? await Snapshots.LockAsync(keys.StepKey(key), ct).ConfigureAwait(false) : null;

    public async ValueTask<IResult?> TryLoadAsync(CacheKey key, Vertex vertex, IReadOnlyList<SolvedInput> inputs, CancellationToken ct)
    {
        if (!Caches(vertex)) return null;
        var stepKey = keys.Remember(vertex, key);
        var (root, parentKey) = Base(vertex, inputs);
        var recordKey = keys.RecordKey(stepKey);
        var description = StepDescriptions.Of(vertex);
        var epoch = env.Request.SourceDateEpoch;
        if (Store.Metadata.GetCacheRecord(recordKey) is { } hit && BuildCache.Deserialize(hit.Result) is { } cached
            && keys.RecordedSnapshot(hit) is { } recorded && Snapshots.Exists(recorded)
            && (cached.Layer is null || Store.Content.Exists(Digest.Parse(cached.Layer))))
        {
            Store.Metadata.TouchCacheRecord(recordKey);
            var when = epoch ?? cached.Created ?? StepTimes.Truncate(hit.CreatedAt);
            Journal.Add(new SolvedStep(stepKey, parentKey, description, cached, when));
            return root.Then(recorded, ToLayer(cached), when);
        }
        if (Imported.Count == 0 || env.Steps.For(vertex) is not { } step) return null;
        var name = NewSnapshotName();
        if (await Imported.RestoreAsync(stepKey, parentKey, root.Snapshot, name, description, Store, Snapshots, env.Images, step, ct).ConfigureAwait(false) is not { } restored)
            return null;
        // The step as another machine ran it: its layer, and its time so the image comes out the same.
        var outcome = restored.Outcome with { Created = epoch ?? restored.Created };
        await SupersedeAsync(recordKey, name).ConfigureAwait(false);
        PutRecord(recordKey, parentKey, description, name, outcome);
        Journal.Add(restored with { Outcome = outcome, Created = outcome.Created!.Value });
        return root.Then(name, ToLayer(outcome), outcome.Created);
    }

    public async ValueTask SaveAsync(CacheKey key, Vertex vertex, IReadOnlyList<SolvedInput> inputs, IResult result, CancellationToken ct)
    {
        var stepKey = keys.Remember(vertex, key);
        if (!Caches(vertex) || result is not SnapshotResult { Snapshot: { } snapshot } solved) return;
        var (_, parentKey) = Base(vertex, inputs);
        var recordKey = keys.RecordKey(stepKey);
        var description = StepDescriptions.Of(vertex);
        var layer = solved.NewLayer;
        var outcome = new StepOutcome
        {
            Created = solved.Created,
            Layer = layer?.Blob.Digest.ToString(),
            MediaType = layer?.Blob.MediaType,
            Size = layer?.Blob.Size ?? 0,
            DiffId = layer?.DiffId.ToString(),
        };
        await SupersedeAsync(recordKey, snapshot).ConfigureAwait(false);
        PutRecord(recordKey, parentKey, description, snapshot, outcome);
        Journal.Add(new SolvedStep(stepKey, parentKey, description, outcome, solved.Created ?? StepTimes.Now()));
    }

    /// <summary>A step snapshot's name; a fresh one per run, so a rerun (<c>--no-cache</c>) never meets the old one.</summary>
    public static string NewSnapshotName() => "build/" + SnapshotWork.NewActiveKey()["active/".Length..];

    /// <summary>Steps that make a filesystem are cached here; sources and the empty filesystem are not.</summary>
    private static bool Caches(Vertex vertex) => vertex.Definition is ExecOp or FileOp { Actions.Count: > 0 };

    /// <summary>The filesystem the step ran on and its key (the parent of the step's record).</summary>
    private (SnapshotResult Root, string ParentKey) Base(Vertex vertex, IReadOnlyList<SolvedInput> inputs)
    {
        int? index = vertex.Definition is FileOp file ? file.BaseInput : 0;
        return index is { } i ? ((SnapshotResult)inputs[i].Result, keys.StepKey(inputs[i].Key)) : (SnapshotResult.Empty, StepKeys.Scratch);
    }

    /// <summary>
    /// The record's step ran again (<c>--no-cache</c>, or its snapshot's parents were gone): the old snapshot goes,
    /// or, when another snapshot builds on it, stays under a record of its own that prune removes with its children.
    /// </summary>
    private async Task SupersedeAsync(string recordKey, string snapshot)
    {
        if (Store.Metadata.GetCacheRecord(recordKey) is not { } old || keys.RecordedSnapshot(old) is not { } previous || previous == snapshot) return;
        if (Snapshots.Snapshotter.Stat(previous) is null) return;
        try
        {
            // Not cancelable: the new record is written next, and the old snapshot must not be left without one.
            await Snapshots.Snapshotter.RemoveAsync(previous, CancellationToken.None).ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            Store.Metadata.PutCacheRecord(new CacheRecord
            {
                Key = BuildCache.Key(recordKey, "superseded", Guid.NewGuid().ToString()),
                Kind = BuildCache.StepKind,
                Description = old.Description + " (superseded by --no-cache)",
                Parent = old.Parent,
                Snapshot = old.Snapshot,
                Result = old.Result,
                Size = old.Size,
                Blobs = old.Blobs,
            });
        }
    }

    private void PutRecord(string recordKey, string parentKey, string description, string snapshotName, StepOutcome outcome) =>
        Store.Metadata.PutCacheRecord(new CacheRecord
        {
            Key = recordKey,
            Kind = BuildCache.StepKind,
            Description = description,
            Parent = keys.RecordKey(parentKey),
            Snapshot = BuildCache.SnapshotRef(keys.Backend, snapshotName),
            Result = BuildCache.Serialize(outcome),
            Size = outcome.Size,
            Blobs = outcome.Layer is null ? [] : [Digest.Parse(outcome.Layer)],
        });

    private static LayerRef? ToLayer(StepOutcome o) =>
        o.Layer is null ? null : new LayerRef(new Descriptor(o.MediaType ?? MediaTypes.DockerLayerGzip, Digest.Parse(o.Layer), o.Size), Digest.Parse(o.DiffId!));
}

/// <summary>
/// Step keys: the graph's chained key with what changes a layer blob besides the inputs — SOURCE_DATE_EPOCH (clamped
/// file times) and a compression other than gzip — and no backend, so another machine computes the same key for an
/// exported cache; a record's key adds the backend, since a record points at one backend's snapshot. The key each
/// vertex was solved under is remembered (the final filesystem's names the cache export's chain).
/// </summary>
internal sealed class StepKeys(SnapshotterKind backend, DateTimeOffset? sourceDateEpoch, Compression compression)
{
    /// <summary>The key of the empty filesystem.</summary>
    public static readonly string Scratch = BuildCache.Key("scratch");

    private readonly ConcurrentDictionary<Digest, string> _solved = new();

    public SnapshotterKind Backend => backend;

    public string StepKey(CacheKey key)
    {
        var parts = new List<string> { key.Digest.Hex };
        if (sourceDateEpoch is { } epoch) parts.Add("source-date-epoch=" + epoch.ToUnixTimeSeconds());
        if (compression != Compression.Gzip) parts.Add("compression=" + compression);
        return parts.Count == 1 ? key.Digest.Hex : BuildCache.Key([.. parts]);
    }

    /// <summary>Notes the step key <paramref name="vertex"/> was solved under, and returns it.</summary>
    public string Remember(Vertex vertex, CacheKey key) => _solved[vertex.Digest] = StepKey(key);

    /// <summary>The step key <paramref name="vertex"/> was solved under; the empty filesystem's when it was not.</summary>
    public string Of(Vertex? vertex) => vertex is not null && _solved.TryGetValue(vertex.Digest, out var key) ? key : Scratch;

    /// <summary>The cache record of step <paramref name="stepKey"/> on this backend.</summary>
    public string RecordKey(string stepKey) => BuildCache.Key("record", backend.Name, stepKey);

    /// <summary>The snapshot a record of this backend points at.</summary>
    public string? RecordedSnapshot(CacheRecord record) =>
        BuildCache.ParseSnapshotRef(record.Snapshot) is var (kind, key) && kind == backend ? key : null;
}

/// <summary>What a step did, in its cache record and an exported cache: <c>mount / from exec …</c>, <c>COPY a /b</c>.</summary>
internal static class StepDescriptions
{
    public static string Of(Vertex vertex) => vertex.Definition switch
    {
        ExecOp exec => "mount / from exec " + string.Join(' ', exec.Args),
        _ => vertex.Name.IndexOf("] ", StringComparison.Ordinal) is var i and >= 0 ? vertex.Name[(i + 2)..] : vertex.Name,
    };
}
