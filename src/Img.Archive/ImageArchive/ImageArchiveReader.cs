using System.Formats.Tar;
using System.Text.Json;
using Img.Archive.Layers;
using Img.Content;
using Img.Oci;

namespace Img.Archive.ImageArchive;

/// <summary>The images an archive held, and the blobs that loading it added to the store.</summary>
/// <param name="Images">The images it names.</param>
/// <param name="Unnamed">
/// The images it holds without a name: OCI index entries with no <c>io.containerd.image.name</c> and no full
/// reference in <c>org.opencontainers.image.ref.name</c> (skopeo's <c>oci-archive:x.tar:bb</c> writes <c>bb</c>,
/// umoci a tag such as <c>latest</c>: a tag alone names no repository).
/// </param>
/// <param name="AddedBlobs">The blobs loading it added to the store.</param>
public sealed record LoadResult(IReadOnlyList<ArchiveImage> Images, IReadOnlyList<Descriptor> Unnamed, IReadOnlyList<Digest> AddedBlobs);

/// <summary>
/// Reads a docker or OCI image archive (plain or gzip-compressed tar) in one pass. Every blob is
/// verified against its name as it streams into the store; legacy docker archives
/// (<c>&lt;id&gt;/layer.tar</c>) get a schema2 manifest made for them. When the archive turns out
/// bad, the blobs it added are removed again: the store is as it was.
/// </summary>
public static class ImageArchiveReader
{
    private const int MaxMetadataFile = 16 << 20;

    public static async Task<LoadResult> LoadAsync(Stream input, ContentStore store, CancellationToken ct = default)
    {
        var added = new List<Digest>();
        try
        {
            var (images, unnamed) = await ReadAsync(input, store, added, ct).ConfigureAwait(false);
            return new LoadResult(images, unnamed, added);
        }
        catch
        {
            foreach (var d in added) store.Delete(d);
            throw;
        }
    }

    private static async Task<(List<ArchiveImage> Named, List<Descriptor> Unnamed)> ReadAsync(Stream input, ContentStore store, List<Digest> added, CancellationToken ct)
    {
        var source = await SniffAsync(input, ct).ConfigureAwait(false);
        var files = new Dictionary<string, Descriptor>(StringComparer.Ordinal); // non-blob files by path
        var small = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        int entries = 0;
        try
        {
            await using var reader = new TarReader(source, leaveOpen: true);
            while (await reader.GetNextEntryAsync(copyData: false, ct).ConfigureAwait(false) is { } entry)
            {
                entries++;
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile)) continue;
                string name = Normalize(entry.Name);
                var data = entry.DataStream ?? Stream.Null;
                if (TryBlobDigest(name, out var expected))
                {
                    bool existed = store.Exists(expected);
                    var desc = await store.IngestAsync(data, "", expected, entry.Length, ct).ConfigureAwait(false);
                    if (!existed) added.Add(expected);
                    files[name] = desc;
                }
                else if (name.EndsWith(".json", StringComparison.Ordinal) || name is "oci-layout" or "repositories")
                {
                    if (entry.Length > MaxMetadataFile) throw new InvalidArchiveException($"{name} is too large ({entry.Length} bytes)");
                    using var ms = new MemoryStream();
                    await data.CopyToAsync(ms, ct).ConfigureAwait(false);
                    small[name] = ms.ToArray();
                }
                else
                {
                    // A legacy layer (<id>/layer.tar): its digest is only known once it is read.
                    await using var writer = store.CreateWriter();
                    await data.CopyToAsync(writer, 1 << 20, ct).ConfigureAwait(false);
                    var (digest, size) = await writer.CommitAsync(null, entry.Length, ct).ConfigureAwait(false);
                    if (!added.Contains(digest)) added.Add(digest);
                    files[name] = new Descriptor("", digest, size);
                }
            }
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidArchiveException("invalid image archive: unexpected end of data (truncated?)", e);
        }
        catch (Exception e) when (e is InvalidDataException or FormatException)
        {
            throw new InvalidArchiveException($"invalid image archive: {e.Message}", e);
        }
        catch (DigestMismatchException e)
        {
            throw new InvalidArchiveException($"invalid image archive: {e.Message}", e);
        }
        if (entries == 0) throw new InvalidArchiveException("invalid image archive: no tar entries (empty or not a tar)");

        // An OCI index lists every image the archive holds; docker's manifest.json names images only by RepoTags.
        var (named, unnamed) = small.TryGetValue("index.json", out var indexBytes) ? ImagesFromIndex(indexBytes, store) : ([], []);
        if (named.Count > 0) return (named, unnamed);
        if (small.TryGetValue("manifest.json", out var manifestBytes))
        {
            var tagged = await ImagesFromDockerManifestAsync(manifestBytes, files, small, store, added, requireName: unnamed.Count == 0, ct).ConfigureAwait(false);
            if (tagged.Count > 0) return (tagged, []);
        }
        if (unnamed.Count > 0) return ([], unnamed);
        throw new InvalidArchiveException(indexBytes is null
            ? "invalid image archive: neither index.json nor manifest.json found"
            : "invalid image archive: index.json lists no image");
    }

    private static (List<ArchiveImage> Named, List<Descriptor> Unnamed) ImagesFromIndex(byte[] indexBytes, ContentStore store)
    {
        var index = Parse(() => OciJson.Deserialize<ImageIndex>(indexBytes), "index.json");
        var images = new List<ArchiveImage>();
        var unnamed = new List<Descriptor>();
        foreach (var m in index.Manifests)
        {
            if (!store.Exists(m.Digest))
                throw new InvalidArchiveException($"invalid image archive: index.json names {m.Digest}, which the archive does not hold");
            var target = m with { Annotations = null, Platform = null };
            // ref.name is often just a tag ("latest") or a short name; only a full reference can name an image.
            string? refName = m.Annotations?.GetValueOrDefault(Annotations.RefName);
            string? name = m.Annotations?.GetValueOrDefault(Annotations.ContainerdImageName)
                ?? (refName is not null && (refName.Contains('/') || refName.Contains(':')) ? refName : null);
            if (name is not null && Reference.TryParse(name, out var reference, out _)) images.Add(new ArchiveImage(reference!, target));
            else if (!unnamed.Any(u => u.Digest == target.Digest)) unnamed.Add(target);
        }
        return (images, unnamed);
    }

    private static async Task<List<ArchiveImage>> ImagesFromDockerManifestAsync(
        byte[] manifestBytes, Dictionary<string, Descriptor> files, Dictionary<string, byte[]> small,
        ContentStore store, List<Digest> added, bool requireName, CancellationToken ct)
    {
        var entries = Parse(() => JsonSerializer.Deserialize(manifestBytes, ArchiveJsonContext.Default.ListDockerArchiveManifest), "manifest.json")
            ?? throw new InvalidArchiveException("invalid image archive: manifest.json is empty");
        if (entries.Contains(null!)) throw new InvalidArchiveException("invalid image archive: manifest.json: null entry");
        var images = new List<ArchiveImage>();
        foreach (var e in entries)
        {
            string configPath = Normalize(e.Config);
            byte[] configBytes = small.TryGetValue(configPath, out var cb) ? cb
                : files.TryGetValue(configPath, out var cd) ? await store.ReadAllBytesAsync(cd.Digest, ct).ConfigureAwait(false)
                : throw new InvalidArchiveException($"invalid image archive: config {e.Config} is missing");
            var config = Parse(() => OciJson.Deserialize<ImageConfig>(configBytes), e.Config);
            var configDesc = await store.WriteBytesAsync(configBytes, MediaTypes.DockerConfig, ct).ConfigureAwait(false);
            var layers = new List<Descriptor>();
            foreach (var layerPath in e.Layers)
            {
                if (!files.TryGetValue(Normalize(layerPath), out var layer))
                    throw new InvalidArchiveException($"invalid image archive: layer {layerPath} is missing");
                var compression = await SniffCompressionAsync(store, layer.Digest, ct).ConfigureAwait(false);
                layers.Add(new Descriptor(MediaTypes.Layer(compression, oci: false), layer.Digest, layer.Size));
            }
            if (layers.Count != config.RootFs.DiffIds.Count)
                throw new InvalidArchiveException($"invalid image archive: {e.Config} lists {config.RootFs.DiffIds.Count} layers, manifest.json {layers.Count}");
            var manifest = new Manifest { MediaType = MediaTypes.DockerManifest, Config = configDesc, Layers = layers };
            var manifestDesc = await store.WriteBytesAsync(OciJson.Serialize(manifest), MediaTypes.DockerManifest, ct).ConfigureAwait(false);
            added.Add(manifestDesc.Digest);
            foreach (var tag in e.RepoTags ?? [])
            {
                if (!Reference.TryParse(tag, out var reference, out var err))
                    throw new InvalidArchiveException($"invalid image archive: bad tag \"{tag}\": {err}");
                images.Add(new ArchiveImage(reference!, manifestDesc));
            }
        }
        if (images.Count == 0 && requireName) throw new InvalidArchiveException("invalid image archive: no image in it has a name");
        return images;
    }

    private static async Task<Compression> SniffCompressionAsync(ContentStore store, Digest digest, CancellationToken ct)
    {
        await using var s = store.OpenRead(digest);
        var head = new byte[4];
        int n = await s.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, ct).ConfigureAwait(false);
        return LayerCompression.Detect(head.AsSpan(0, n));
    }

    /// <summary>Unwraps gzip: users pipe <c>save | gzip</c> archives back in.</summary>
    private static Task<Stream> SniffAsync(Stream input, CancellationToken ct) =>
        LayerCompression.OpenDecompressingAsync(new BufferedStream(input, 1 << 16), leaveOpen: true, ct);

    private static bool TryBlobDigest(string name, out Digest digest)
    {
        digest = default;
        var parts = name.Split('/');
        return parts.Length == 3 && parts[0] == "blobs" && Digest.TryParse($"{parts[1]}:{parts[2]}", out digest);
    }

    private static string Normalize(string name)
    {
        name = name.Replace('\\', '/');
        while (name.StartsWith("./", StringComparison.Ordinal)) name = name[2..];
        return name.TrimStart('/');
    }

    private static T Parse<T>(Func<T> parse, string what)
    {
        try { return parse(); }
        catch (Exception e) when (e is FormatException or JsonException)
        {
            throw new InvalidArchiveException($"invalid image archive: {what}: {e.Message}", e);
        }
    }
}
