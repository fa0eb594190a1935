using System.Collections.Concurrent;
using Img.Archive.Layers;
using Img.Build.CacheSharing;
using Img.Content;
using Img.Dockerfile;
using Img.Oci;
using Img.Runtime.Oci;
using Img.Runtime.Snapshots;

namespace Img.Build;

/// <summary>
/// Builds the stages a target needs. Every stage is a task started at once; a stage waits only for the stages it
/// reads (FROM, COPY --from, RUN --mount from=), so independent stages run in parallel. Each filesystem-changing
/// step has a cache key chained from its parent's key; a key with a live record is reused without running.
/// </summary>
internal sealed class Solver
{
    private readonly ConcurrentDictionary<int, Lazy<Task<StageState>>> _stages = new();

    public Solver(BuildRequest request, BuildPlan plan, LocalStore store, SnapshotWork snapshots, BaseImages images,
        BuildContext context, ProgressSink progress, SnapshotterKind backend, Compression compression, Lazy<IStepExecutor> runtime)
    {
        Request = request;
        Plan = plan;
        Store = store;
        Snapshots = snapshots;
        Images = images;
        Context = context;
        Progress = progress;
        Backend = backend;
        Compression = compression;
        Runtime = runtime;
    }

    public BuildRequest Request { get; }
    public BuildPlan Plan { get; }
    public LocalStore Store { get; }
    public SnapshotWork Snapshots { get; }
    public BaseImages Images { get; }
    public BuildContext Context { get; }
    public ProgressSink Progress { get; }
    public SnapshotterKind Backend { get; }
    public Compression Compression { get; }
    public Lazy<IStepExecutor> Runtime { get; }

    /// <summary>The caches of <c>--cache-from</c>, asked when a step has no usable local record.</summary>
    public ImportedCache ImportedCache { get; init; } = ImportedCache.Empty;

    /// <summary>Every step resolved so far, for <c>--cache-to</c>.</summary>
    public StepJournal Journal { get; } = new();

    /// <summary>Builds the target (and, concurrently, every stage it needs).</summary>
    public async Task<StageState> SolveAsync(CancellationToken ct)
    {
        var all = Plan.BuildOrder.Select(s => StageAsync(s.Index, ct)).ToList();
        await Task.WhenAll(all).ConfigureAwait(false);
        return await StageAsync(Plan.Target.Index, ct).ConfigureAwait(false);
    }

    /// <summary>The finished state of stage <paramref name="index"/>, built once.</summary>
    public Task<StageState> StageAsync(int index, CancellationToken ct) =>
        _stages.GetOrAdd(index, i => new Lazy<Task<StageState>>(() => Task.Run(() => new StageDispatcher(this, Plan.Stages[i]).RunAsync(ct), ct))).Value;

    /// <summary>
    /// Runs (or reuses from the cache) one filesystem step. <paramref name="keyParts"/> must describe everything the
    /// step's result depends on besides the parent filesystem.
    /// </summary>
    public async Task<StageState> LayerStepAsync(StageState state, string name, string description, IEnumerable<string> keyParts,
        Func<string, StepReporter, Task> mutate, CancellationToken ct)
    {
        // No backend in the key: the same step on another machine (or backend) has the same key, so an exported
        // cache matches there. The record key adds the backend, since a record points at one backend's snapshot.
        var key = BuildCache.Key([state.Key, .. keyParts, .. LayerFormatKeyParts()]);
        var recordKey = RecordKey(key);
        var snapshotName = "build/" + key;
        using (await Snapshots.LockAsync(key, ct).ConfigureAwait(false))
        {
            var step = Progress.Start(name);
            if ((!Request.NoCache || Request.RunThisBuild.ContainsKey(recordKey)) && Store.Metadata.GetCacheRecord(recordKey) is { } hit && BuildCache.Deserialize(hit.Result) is { } cached
                && RecordedSnapshot(hit) is { } recorded && Snapshots.Exists(recorded)
                && (cached.Layer is null || Store.Content.Exists(Digest.Parse(cached.Layer))))
            {
                Store.Metadata.TouchCacheRecord(recordKey);
                step.Cached();
                var when = Request.SourceDateEpoch ?? cached.Created ?? TruncateToSeconds(hit.CreatedAt);
                Journal.Add(new SolvedStep(key, state.Key, description, cached, when));
                return state.With(key, recorded, ToLayer(cached), when);
            }
            if (!Request.NoCache && await ImportedCache.RestoreAsync(key, state.Key, state.Snapshot, snapshotName, description, Store, Snapshots, Images, step, ct).ConfigureAwait(false) is { } restored)
            {
                // The step as another machine ran it: its layer, and its time so the image comes out the same.
                var outcome = restored.Outcome with { Created = Request.SourceDateEpoch ?? restored.Created };
                PutRecord(recordKey, state.Key, description, snapshotName, outcome);
                step.Cached();
                Journal.Add(restored with { Outcome = outcome, Created = outcome.Created!.Value });
                return state.With(key, snapshotName, ToLayer(outcome), outcome.Created);
            }
            try
            {
                if ((Request.NoCache || !Snapshots.Exists(snapshotName)) && Snapshots.Snapshotter.Stat(snapshotName) is not null)
                {
                    // --no-cache runs the step again, and so does a snapshot whose parents are gone (its record was
                    // no cache hit): the fresh result replaces the old one.
                    try { await Snapshots.Snapshotter.RemoveAsync(snapshotName, ct).ConfigureAwait(false); }
                    catch (InvalidOperationException)
                    {
                        // Another snapshot builds on the old one: keep it under a record of its own, so that
                        // prune removes it once its children are gone, and give the fresh result a new name.
                        KeepSuperseded(recordKey, snapshotName, state.Key, description);
                        snapshotName = "build/" + BuildCache.Key(key, Guid.NewGuid().ToString());
                    }
                }
                var layer = await Snapshots.CommitChangeAsync(state.Snapshot, snapshotName, Compression, dir => mutate(dir, step), ct).ConfigureAwait(false);
                var created = Request.SourceDateEpoch ?? TruncateToSeconds(DateTimeOffset.UtcNow);
                var outcome = new StepOutcome
                {
                    Created = created,
                    Layer = layer?.Blob.Digest.ToString(),
                    MediaType = layer?.Blob.MediaType,
                    Size = layer?.Blob.Size ?? 0,
                    DiffId = layer?.DiffId.ToString(),
                };
                PutRecord(recordKey, state.Key, description, snapshotName, outcome);
                Request.RunThisBuild[recordKey] = true;
                step.Done();
                Journal.Add(new SolvedStep(key, state.Key, description, outcome, created));
                return state.With(key, snapshotName, layer, created);
            }
            catch (BuildFailedException e)
            {
                step.Error(e.Reason);
                throw e.InStep(name);
            }
            catch (Exception e)
            {
                // Ctrl-C: BuildKit's words rather than "A task was canceled."
                step.Error(e is OperationCanceledException ? "context canceled" : e.Message);
                throw;
            }
        }
    }

    /// <summary>
    /// What changes a step's layer blob besides its inputs: SOURCE_DATE_EPOCH (clamped file times) and a compression
    /// other than gzip. Nothing for the defaults, so their keys stay as they were.
    /// </summary>
    private IEnumerable<string> LayerFormatKeyParts()
    {
        if (Request.SourceDateEpoch is { } epoch) yield return "source-date-epoch=" + epoch.ToUnixTimeSeconds();
        if (Compression != Compression.Gzip) yield return "compression=" + Compression;
    }

    /// <summary>The cache record of step <paramref name="key"/> on this backend.</summary>
    private string RecordKey(string key) => BuildCache.Key("record", Backend.Name, key);

    private void PutRecord(string recordKey, string parentKey, string description, string snapshotName, StepOutcome outcome) =>
        Store.Metadata.PutCacheRecord(new CacheRecord
        {
            Key = recordKey,
            Kind = BuildCache.StepKind,
            Description = description,
            Parent = RecordKey(parentKey),
            Snapshot = BuildCache.SnapshotRef(Backend, snapshotName),
            Result = BuildCache.Serialize(outcome),
            Size = outcome.Size,
            Blobs = outcome.Layer is null ? [] : [Digest.Parse(outcome.Layer)],
        });

    /// <summary>The snapshot a record of this backend points at (after --no-cache it may not be "build/&lt;key&gt;").</summary>
    private string? RecordedSnapshot(CacheRecord record) =>
        BuildCache.ParseSnapshotRef(record.Snapshot) is var (backend, key) && backend == Backend ? key : null;

    private void KeepSuperseded(string recordKey, string snapshotName, string parentKey, string description)
    {
        var old = Store.Metadata.GetCacheRecord(recordKey);
        Store.Metadata.PutCacheRecord(new CacheRecord
        {
            Key = BuildCache.Key(recordKey, "superseded", Guid.NewGuid().ToString()),
            Kind = BuildCache.StepKind,
            Description = (old?.Description ?? description) + " (superseded by --no-cache)",
            Parent = old?.Parent ?? RecordKey(parentKey),
            Snapshot = BuildCache.SnapshotRef(Backend, snapshotName),
            Result = old?.Result ?? BuildCache.Serialize(new StepOutcome()),
            Size = old?.Size ?? 0,
            Blobs = old?.Blobs ?? [],
        });
    }

    // Whole seconds: the cache record's own time column keeps milliseconds, the exported history should not differ by them.
    private static DateTimeOffset TruncateToSeconds(DateTimeOffset t) => DateTimeOffset.FromUnixTimeSeconds(t.ToUnixTimeSeconds());

    private static LayerRef? ToLayer(StepOutcome o) =>
        o.Layer is null ? null : new LayerRef(new Descriptor(o.MediaType ?? MediaTypes.DockerLayerGzip, Digest.Parse(o.Layer), o.Size), Digest.Parse(o.DiffId!));
}
