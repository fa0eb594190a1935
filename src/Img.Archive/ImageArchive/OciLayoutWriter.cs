using System.Formats.Tar;
using System.Text.Json;
using Img.Content;
using Img.Oci;

namespace Img.Archive.ImageArchive;

/// <summary>
/// Where the files of an OCI image layout go: entries of a tar stream (<c>-o type=oci|docker</c>, <c>img save</c>) or
/// files of a directory (<c>--cache-to type=local</c>). The layout itself — its names, its marker, which blobs — is
/// <see cref="OciLayoutWriter"/>'s.
/// </summary>
public interface ILayoutTarget
{
    /// <summary>Writes a blob under <paramref name="name"/> (<c>blobs/sha256/…</c>) unless it is there already.</summary>
    Task WriteBlobAsync(string name, Descriptor blob, Func<Stream> open, CancellationToken ct);

    /// <summary>Writes (or replaces whole) a small file of the layout's top level.</summary>
    Task WriteFileAsync(string name, byte[] data, CancellationToken ct);
}

/// <summary>
/// Writes an OCI image layout (image-spec's <c>image-layout.md</c>): blobs from the content store at
/// <c>blobs/&lt;alg&gt;/&lt;hex&gt;</c>, <c>index.json</c> and the <c>oci-layout</c> marker, onto an
/// <see cref="ILayoutTarget"/>. One writer for archives and cache directories, so both spell the layout alike.
/// </summary>
public sealed class OciLayoutWriter(ILayoutTarget target)
{
    public const string IndexFile = "index.json";
    public const string MarkerFile = "oci-layout";

    /// <summary>A blob's path inside a layout.</summary>
    public static string BlobName(Digest d) => $"blobs/{d.Algorithm}/{d.Hex}";

    /// <summary>Copies <paramref name="blobs"/> from <paramref name="store"/>, each digest once, in the order given.</summary>
    public async Task WriteBlobsAsync(ContentStore store, IEnumerable<Descriptor> blobs, CancellationToken ct)
    {
        foreach (var blob in blobs.DistinctBy(b => b.Digest))
            await target.WriteBlobAsync(BlobName(blob.Digest), blob, () => store.OpenRead(blob.Digest), ct).ConfigureAwait(false);
    }

    /// <summary>Writes <c>index.json</c>: <paramref name="index"/> as an OCI index.</summary>
    public Task WriteIndexAsync(ImageIndex index, CancellationToken ct) =>
        target.WriteFileAsync(IndexFile, OciJson.Serialize(index with { SchemaVersion = 2, MediaType = MediaTypes.OciIndex }), ct);

    /// <summary>Writes the <c>oci-layout</c> marker (<c>{"imageLayoutVersion":"1.0.0"}</c>).</summary>
    public Task WriteMarkerAsync(CancellationToken ct) =>
        target.WriteFileAsync(MarkerFile, JsonSerializer.SerializeToUtf8Bytes(new OciLayoutFile(), ArchiveJsonContext.Default.OciLayoutFile), ct);

    /// <summary>Any other top-level file (docker's <c>manifest.json</c> in an image archive).</summary>
    public Task WriteFileAsync(string name, byte[] data, CancellationToken ct) => target.WriteFileAsync(name, data, ct);
}

/// <summary>
/// A layout as tar entries: reproducible (epoch times, fixed modes, ustar), each <c>blobs/&lt;alg&gt;/</c> directory
/// entry before its first blob. Blobs stream from the store; nothing is held in memory but the small files.
/// </summary>
public sealed class TarLayoutTarget(TarWriter tar) : ILayoutTarget
{
    private const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private const UnixFileMode DirMode = FileMode | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
    private readonly HashSet<string> _dirs = new(StringComparer.Ordinal);

    /// <summary>Writes the <c>blobs/</c> directory entries of <paramref name="algorithms"/> up front (an archive with no blob has them too).</summary>
    public async Task WriteBlobDirectoriesAsync(IEnumerable<string> algorithms, CancellationToken ct)
    {
        await DirectoryAsync("blobs/", ct).ConfigureAwait(false);
        foreach (var alg in algorithms) await DirectoryAsync($"blobs/{alg}/", ct).ConfigureAwait(false);
    }

    public async Task WriteBlobAsync(string name, Descriptor blob, Func<Stream> open, CancellationToken ct)
    {
        await WriteBlobDirectoriesAsync([blob.Digest.Algorithm], ct).ConfigureAwait(false);
        var data = open();
        await using (data.ConfigureAwait(false))
        {
            await tar.WriteEntryAsync(new UstarTarEntry(TarEntryType.RegularFile, name)
            {
                DataStream = data, ModificationTime = DateTimeOffset.UnixEpoch, Mode = FileMode,
            }, ct).ConfigureAwait(false);
        }
    }

    public async Task WriteFileAsync(string name, byte[] data, CancellationToken ct)
    {
        using var ms = new MemoryStream(data, writable: false);
        await tar.WriteEntryAsync(new UstarTarEntry(TarEntryType.RegularFile, name)
        {
            DataStream = ms, ModificationTime = DateTimeOffset.UnixEpoch, Mode = FileMode,
        }, ct).ConfigureAwait(false);
    }

    private async Task DirectoryAsync(string name, CancellationToken ct)
    {
        if (!_dirs.Add(name)) return;
        await tar.WriteEntryAsync(new UstarTarEntry(TarEntryType.Directory, name) { ModificationTime = DateTimeOffset.UnixEpoch, Mode = DirMode }, ct)
            .ConfigureAwait(false);
    }
}

/// <summary>
/// A layout as a directory that may already hold one: a blob present at its full size is kept (blobs are named by
/// their content), a new one appears under its name only when complete, and a top-level file is replaced by a rename,
/// so a reader sees the old layout or the new one, never half of one.
/// </summary>
public sealed class DirectoryLayoutTarget(string directory) : ILayoutTarget
{
    public string Directory { get; } = directory;

    public async Task WriteBlobAsync(string name, Descriptor blob, Func<Stream> open, CancellationToken ct)
    {
        var path = Path.Combine(Directory, name);
        if (File.Exists(path) && new FileInfo(path).Length == blob.Size) return;
        var source = open();
        await using (source.ConfigureAwait(false))
        {
            var file = new AtomicFile(path);
            await using (file.ConfigureAwait(false))
            {
                await source.CopyToAsync(file.Stream, 1 << 20, ct).ConfigureAwait(false);
                await file.CommitAsync(ct).ConfigureAwait(false);
            }
        }
    }

    public async Task WriteFileAsync(string name, byte[] data, CancellationToken ct)
    {
        var file = new AtomicFile(Path.Combine(Directory, name));
        await using (file.ConfigureAwait(false))
        {
            await file.Stream.WriteAsync(data, ct).ConfigureAwait(false);
            await file.CommitAsync(ct).ConfigureAwait(false);
        }
    }
}
