using Img.Archive.ImageArchive;
using Img.Content;
using Img.Oci;

namespace Img.Build.CacheSharing;

/// <summary>
/// An OCI image layout directory (<c>oci-layout</c>, <c>index.json</c>, <c>blobs/sha256/…</c>) holding caches, one
/// index entry per tag, written by the same <see cref="OciLayoutWriter"/> as image archives. Blobs appear under their digest only when complete; <c>index.json</c> is replaced by a rename,
/// so a reader sees the old cache or the new one, never half of one.
/// </summary>
internal sealed class OciLayoutDir(string directory)
{
    private const string LayoutFile = OciLayoutWriter.MarkerFile;
    private const string IndexFile = OciLayoutWriter.IndexFile;
    private const int MaxDocumentSize = 16 << 20;

    public string Directory { get; } = directory;

    private OciLayoutWriter Writer => new(new DirectoryLayoutTarget(Directory));

    private string BlobPath(Digest digest) => Path.Combine(Directory, "blobs", digest.Algorithm, digest.Hex);

    public Stream OpenBlob(Digest digest) => File.OpenRead(BlobPath(digest));

    /// <summary>The index, or an empty one when the directory has none yet.</summary>
    /// <exception cref="InvalidDataException">index.json is not a readable OCI index.</exception>
    public ImageIndex ReadIndex(bool mustExist)
    {
        var path = Path.Combine(Directory, IndexFile);
        if (!File.Exists(path))
        {
            if (mustExist) throw new InvalidDataException($"{path} not found");
            return new ImageIndex { SchemaVersion = 2, MediaType = MediaTypes.OciIndex };
        }
        var bytes = ReadBounded(path);
        try { return OciJson.Deserialize<ImageIndex>(bytes); }
        catch (FormatException e) { throw new InvalidDataException($"{path}: {e.Message}", e); }
    }

    /// <summary>A small blob (manifest, config), verified against <paramref name="descriptor"/>.</summary>
    /// <exception cref="InvalidDataException">Missing, too large, or not what the descriptor says.</exception>
    public byte[] ReadDocument(Descriptor descriptor)
    {
        var path = BlobPath(descriptor.Digest);
        if (!File.Exists(path)) throw new InvalidDataException($"blob {descriptor.Digest} is missing from {Directory}");
        if (descriptor.Size > MaxDocumentSize) throw new InvalidDataException($"blob {descriptor.Digest} is larger than {MaxDocumentSize} bytes");
        var bytes = ReadBounded(path);
        if (bytes.Length != descriptor.Size || Digest.Compute(bytes) != descriptor.Digest)
            throw new InvalidDataException($"blob {descriptor.Digest} in {Directory} failed verification");
        return bytes;
    }

    private static byte[] ReadBounded(string path)
    {
        using var fs = File.OpenRead(path);
        if (fs.Length > MaxDocumentSize) throw new InvalidDataException($"{path} is larger than {MaxDocumentSize} bytes");
        var bytes = new byte[fs.Length];
        fs.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>Copies a blob of the content store into the layout unless it is there already.</summary>
    public Task WriteBlobAsync(ContentStore store, Descriptor blob, CancellationToken ct) => Writer.WriteBlobsAsync(store, [blob], ct);

    /// <summary>Points <paramref name="tag"/> at <paramref name="manifest"/> (its blob must be written first); other tags stay.</summary>
    public async Task SetTagAsync(string tag, Descriptor manifest, CancellationToken ct)
    {
        if (!File.Exists(Path.Combine(Directory, LayoutFile))) await Writer.WriteMarkerAsync(ct).ConfigureAwait(false);
        var index = ReadIndex(mustExist: false);
        var entry = manifest with { Annotations = new Dictionary<string, string> { [Annotations.RefName] = tag } };
        await Writer.WriteIndexAsync(index with { Manifests = [.. index.Manifests.Where(m => TagOf(m) != tag), entry] }, ct).ConfigureAwait(false);
    }

    /// <summary>The manifest entry tagged <paramref name="tag"/>; an untagged single entry counts as <c>latest</c>.</summary>
    public static Descriptor? Find(ImageIndex index, string tag) =>
        index.Manifests.FirstOrDefault(m => TagOf(m) == tag)
        ?? (tag == Reference.DefaultTag && index.Manifests.Count == 1 && TagOf(index.Manifests[0]) is null ? index.Manifests[0] : null);

    private static string? TagOf(Descriptor d) => d.Annotations is { } a && a.TryGetValue(Annotations.RefName, out var t) ? t : null;
}
