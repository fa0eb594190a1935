using System.Text.Json;
using Img.Content;
using Img.Oci;
using Img.Registry;

namespace Img.Build.CacheSharing;

/// <summary>
/// Writes the build's cache for every <c>--cache-to</c>: an OCI manifest whose config is the <see cref="CacheConfig"/>
/// map and whose layers are the steps' layer blobs, pushed to a registry or written into a layout directory; or,
/// for type=inline, the map inside the image config. mode=min exports the chain of the final filesystem, mode=max
/// every step this build resolved (intermediate stages too). A multi-platform build exports one cache holding
/// every platform's steps (<see cref="Merge"/>).
/// </summary>
internal sealed class CacheExporter
{
    private readonly BuildRequest _request;
    private readonly List<(StepJournal Journal, string FinalKey)> _solves;

    public CacheExporter(BuildRequest request, StepJournal journal, string finalKey) : this(request, [(journal, finalKey)]) { }

    private CacheExporter(BuildRequest request, List<(StepJournal, string)> solves)
    {
        _request = request;
        _solves = solves;
    }

    /// <summary>One exporter for the solves of several platforms (their requests differ only in the platform).</summary>
    public static CacheExporter Merge(IReadOnlyList<CacheExporter> exporters) =>
        new(exporters[0]._request, exporters.SelectMany(e => e._solves).ToList());

    private IEnumerable<SolvedStep> Steps(bool max) =>
        _solves.SelectMany(s => max ? s.Journal.All() : s.Journal.Chain(s.FinalKey)).DistinctBy(s => s.Key);

    /// <summary>
    /// Adds the inline map to <paramref name="config"/> (before the image is written) when type=inline is asked for.
    /// Its layers are the image's own, so a later import fetches them from the image's repository.
    /// </summary>
    public void AddInline(ImageConfig config)
    {
        if (!_request.CacheTo.Any(s => s.Type == CacheType.Inline)) return;
        var map = MapOf(Steps(max: false));
        config.Extra ??= new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        config.Extra[CacheConfig.InlineField] = JsonSerializer.SerializeToElement(Convert.ToBase64String(map.ToBytes()), CacheJsonContext.Default.String);
    }

    /// <summary>
    /// Exports to every registry and local destination; call after the image is exported and stored.
    /// </summary>
    /// <exception cref="BuildFailedException">An export failed (and did not say ignore-error=true).</exception>
    public async Task ExportAsync(LocalStore store, RegistryClient registry, ProgressSink progress, CancellationToken ct)
    {
        foreach (var spec in _request.CacheTo.Where(s => s.Type != CacheType.Inline))
        {
            var step = progress.Start(spec.Type == CacheType.Registry ? "exporting cache to registry" : "exporting cache to client directory");
            try
            {
                step.Log("preparing build cache for export");
                var (manifest, layers, configDesc) = await WriteManifestAsync(store.Content, MapOf(Steps(spec.Max)), ct).ConfigureAwait(false);
                if (spec.Type == CacheType.Registry)
                {
                                        var report = new PushReport(step, manifest.Digest, configDesc.Digest);
                    await registry.PushAsync(spec.Ref!, manifest, store.Content, report, ct: ct).ConfigureAwait(false);
                }
                else
                {
                    var layout = new OciLayoutDir(spec.Dest!);
                    foreach (var layer in layers)
                    {
                        await layout.WriteBlobAsync(store.Content, layer, ct).ConfigureAwait(false);
                        step.Log($"writing layer {layer.Digest} done");
                    }
                    await layout.WriteBlobAsync(store.Content, configDesc, ct).ConfigureAwait(false);
                    step.Log($"writing config {configDesc.Digest} done");
                    await layout.WriteBlobAsync(store.Content, manifest, ct).ConfigureAwait(false);
                    await layout.SetTagAsync(spec.Tag, manifest, ct).ConfigureAwait(false);
                    step.Log($"writing cache manifest {manifest.Digest} done");
                }
                step.Done();
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                var why = $"failed to export cache to {spec.Display}: {BuildFailedException.ReasonOf(e)}";
                if (spec.IgnoreError)
                {
                    step.Log("WARNING: " + why);
                    step.Done();
                    continue;
                }
                step.Error(why);
                throw new BuildFailedException(why, e);
            }
        }
    }

    private static CacheConfig MapOf(IEnumerable<SolvedStep> steps) => new()
    {
        Records = steps.Select(s => new CacheEntry
        {
            Key = s.Key,
            Parent = s.Parent,
            Description = s.Description,
            Created = s.Created,
            Layer = s.Outcome.Layer is null ? null : new CacheLayer
            {
                MediaType = s.Outcome.MediaType ?? MediaTypes.DockerLayerGzip,
                Digest = s.Outcome.Layer,
                Size = s.Outcome.Size,
                DiffId = s.Outcome.DiffId!,
            },
        }).ToList(),
    };

    /// <summary>Stores the map and its manifest; the layers keep their blobs, listed with OCI media types.</summary>
    private static async Task<(Descriptor Manifest, List<Descriptor> Layers, Descriptor Config)> WriteManifestAsync(ContentStore content, CacheConfig map, CancellationToken ct)
    {
        var config = await content.WriteBytesAsync(map.ToBytes(), CacheConfig.MediaType, ct).ConfigureAwait(false);
        var layers = map.Records
            .Where(r => r.Layer is not null)
            .Select(r => r.Layer!.ToDescriptor())
            .DistinctBy(d => d.Digest)
            .Select(d => d with { MediaType = MediaTypes.Layer(MediaTypes.LayerCompression(d.MediaType), oci: true) })
            .ToList();
        foreach (var layer in layers)
            if (content.SizeOf(layer.Digest) != layer.Size) throw new InvalidOperationException($"layer {layer.Digest} is not in the local store");
        var manifest = new Manifest { SchemaVersion = 2, MediaType = MediaTypes.OciManifest, Config = config, Layers = layers };
        var desc = await content.WriteBytesAsync(OciJson.Serialize(manifest), MediaTypes.OciManifest, ct).ConfigureAwait(false);
        return (desc, layers, config);
    }

    /// <summary>BuildKit's lines for a registry export, one per blob as the push finishes it.</summary>
    private sealed class PushReport(StepReporter step, Digest manifest, Digest config) : IProgress<RegistryProgress>
    {
        public void Report(RegistryProgress value)
        {
            if (value.Kind is not (RegistryProgressKind.Done or RegistryProgressKind.Exists or RegistryProgressKind.Mounted) || value.Descriptor is not { } d) return;
            var what = d.Digest == manifest ? "cache manifest" : d.Digest == config ? "config" : "layer";
            step.Log($"writing {what} {d.Digest} done");
        }
    }
}
