using System.Text.Json;
using Img.Content;
using Img.Oci;
using Img.Registry;

namespace Img.Build.CacheSharing;

/// <summary>
/// Reads the cache maps of every <c>--cache-from</c> before the solve: a cache manifest (registry or local layout)
/// or an image whose config carries an inline map. Nothing here fails a build: a missing, stale, corrupt or
/// unreachable cache is one warning line and is then ignored. Layer blobs are not fetched here (see
/// <see cref="ImportedCache"/>).
/// </summary>
internal static class CacheImporter
{
    /// <summary>Largest cache config read into memory.</summary>
    private const long MaxConfigSize = 16 << 20;

    public static async Task<ImportedCache> ImportAsync(BuildRequest request, RegistryClient registry, LocalStore store, ProgressSink progress, CancellationToken ct)
    {
        if (request.CacheFrom.Count == 0 || request.NoCache) return ImportedCache.Empty;
        var imported = new ImportedCache();
        foreach (var spec in request.CacheFrom)
        {
            var step = progress.Start($"importing cache manifest from {spec.Display}");
            try
            {
                var (config, source) = spec.Type == CacheType.Local
                    ? ReadLayout(spec)
                    : await ReadRegistryAsync(registry, spec.Ref!, request.Platform, store, ct).ConfigureAwait(false);
                imported.Add(config, source);
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                step.Log($"WARNING: ignoring cache from {spec.Display}: {BuildFailedException.ReasonOf(e)}");
            }
            step.Done();
        }
        return imported;
    }

    private static (CacheConfig, CacheSource) ReadLayout(CacheImportSpec spec)
    {
        var layout = new OciLayoutDir(spec.Src!);
        var index = layout.ReadIndex(mustExist: true);
        var entry = OciLayoutDir.Find(index, spec.Tag) ?? throw new InvalidDataException($"no cache tagged \"{spec.Tag}\" in {spec.Src}");
        if (entry.MediaType != MediaTypes.OciManifest) throw new InvalidDataException($"{entry.Digest} is not a cache manifest ({entry.MediaType})");
        var manifest = ParseManifest(layout.ReadDocument(entry));
        if (manifest.Config.MediaType != CacheConfig.MediaType)
            throw new InvalidDataException($"{entry.Digest} is not a cache manifest (config {manifest.Config.MediaType})");
        var config = CacheConfig.Parse(layout.ReadDocument(manifest.Config));
        CheckLayers(config, manifest.Layers);
        return (config, new LayoutCacheSource(layout));
    }

    private static async Task<(CacheConfig, CacheSource)> ReadRegistryAsync(RegistryClient client, Reference reference, Platform platform, LocalStore store, CancellationToken ct)
    {
        var fetched = await client.FetchManifestAsync(reference, ct).ConfigureAwait(false);
        if (MediaTypes.IsIndex(fetched.Descriptor.MediaType))
        {
            // An image index: the inline cache of this platform's image.
            var index = OciJson.Deserialize<ImageIndex>(fetched.Bytes);
            var chosen = index.Manifests
                .Where(m => MediaTypes.IsManifest(m.MediaType) && platform.Matches(m.Platform))
                .OrderBy(m => platform.Rank(m.Platform!))
                .FirstOrDefault() ?? throw new InvalidDataException($"no manifest for {platform} in {reference}");
            fetched = await client.FetchManifestAsync(reference.WithDigest(chosen.Digest), ct).ConfigureAwait(false);
        }
        var manifest = ParseManifest(fetched.Bytes);
        var source = new RegistryCacheSource(client, reference);
        if (manifest.Config.Size > MaxConfigSize) throw new InvalidDataException($"config {manifest.Config.Digest} is larger than {MaxConfigSize} bytes");
        await source.FetchAsync(manifest.Config, store.Content, ct).ConfigureAwait(false);
        var bytes = await store.Content.ReadAllBytesAsync(manifest.Config.Digest, ct).ConfigureAwait(false);

        CacheConfig config;
        if (manifest.Config.MediaType == CacheConfig.MediaType)
        {
            config = CacheConfig.Parse(bytes);
        }
        else if (MediaTypes.IsConfig(manifest.Config.MediaType))
        {
            var image = OciJson.Deserialize<ImageConfig>(bytes);
            if (image.Extra is null || !image.Extra.TryGetValue(CacheConfig.InlineField, out var inline) || inline.ValueKind != JsonValueKind.String)
                throw new InvalidDataException($"the image has no inline cache (build it with --cache-to type=inline)");
            byte[] json;
            try { json = Convert.FromBase64String(inline.GetString()!); }
            catch (FormatException) { throw new InvalidDataException($"the image's {CacheConfig.InlineField} is not base64"); }
            config = CacheConfig.Parse(json);
        }
        else
        {
            throw new InvalidDataException($"{fetched.Descriptor.Digest} is neither a cache manifest nor an image (config {manifest.Config.MediaType})");
        }
        CheckLayers(config, manifest.Layers);
        return (config, source);
    }

    private static Manifest ParseManifest(byte[] bytes)
    {
        try { return OciJson.Deserialize<Manifest>(bytes); }
        catch (FormatException e) { throw new InvalidDataException(e.Message, e); }
    }

    /// <summary>Every layer a map names must be one the manifest lists: that is the set the registry or layout keeps.</summary>
    private static void CheckLayers(CacheConfig config, IReadOnlyList<Descriptor> layers)
    {
        var listed = layers.Select(l => (l.Digest.ToString(), l.Size)).ToHashSet();
        foreach (var r in config.Records)
            if (r.Layer is { } l && !listed.Contains((l.Digest, l.Size)))
                throw new InvalidDataException($"cache record {r.Key} names layer {l.Digest}, which the manifest does not list");
    }
}
