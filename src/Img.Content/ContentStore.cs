using Img.Oci;

namespace Img.Content;

/// <summary>
/// Blobs addressed by digest under <c>root/blobs/&lt;alg&gt;/&lt;hex&gt;</c>. A blob becomes visible
/// only after its bytes were written to a private temp file, flushed to disk and verified:
/// a crash or a wrong digest never leaves a bad blob under its final name.
/// </summary>
public sealed class ContentStore
{
    private readonly string _blobs;
    private readonly string _ingest;

    public ContentStore(string root)
    {
        Root = root;
        _blobs = Path.Combine(root, "blobs");
        _ingest = Path.Combine(root, "ingest");
        Directory.CreateDirectory(_blobs);
        Directory.CreateDirectory(_ingest);
    }

    public string Root { get; }

    public string BlobPath(Digest digest) => Path.Combine(_blobs, digest.Algorithm, digest.Hex);

    public bool Exists(Digest digest) => File.Exists(BlobPath(digest));

    /// <summary>The size of a stored blob, or null if it is not stored.</summary>
    public long? SizeOf(Digest digest)
    {
        var info = new FileInfo(BlobPath(digest));
        return info.Exists ? info.Length : null;
    }

    /// <summary>
    /// The largest manifest, index or config read whole into memory: the limit of a metadata file in an
    /// image archive. containerd refuses manifests past 4 MiB; configs carry history and so get more room.
    /// </summary>
    public const int MaxDocumentSize = 16 << 20;

    /// <summary>Opens a blob for reading; the bytes are checked against its digest as they stream (see <see cref="VerifiedBlobStream"/>).</summary>
    public VerifiedBlobStream OpenRead(Digest digest) => new(this, digest, OpenFile(digest));

    /// <summary>
    /// Opens a blob to read a range of it (a chunk of an upload), which no digest can vouch for: whole-blob
    /// readers use <see cref="OpenRead"/>.
    /// </summary>
    public FileStream OpenRange(Digest digest, long offset)
    {
        var file = OpenFile(digest);
        file.Seek(offset, SeekOrigin.Begin);
        return file;
    }

    private FileStream OpenFile(Digest digest)
    {
        try
        {
            return new FileStream(BlobPath(digest), new FileStreamOptions
            {
                Mode = FileMode.Open,
                Access = FileAccess.Read,
                Share = FileShare.Read | FileShare.Delete,
                Options = FileOptions.Asynchronous | FileOptions.SequentialScan,
                BufferSize = 0,
            });
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new BlobNotFoundException(digest);
        }
    }

    /// <summary>A whole document blob (manifest, index, config), refused past <see cref="MaxDocumentSize"/> and verified.</summary>
    public async Task<byte[]> ReadAllBytesAsync(Digest digest, CancellationToken ct = default)
    {
        await using var stream = OpenRead(digest);
        if (stream.Length > MaxDocumentSize)
            throw new DocumentTooLargeException($"blob {digest} is {stream.Length} bytes, more than the {MaxDocumentSize} a manifest, index or config may have");
        var bytes = new byte[stream.Length];
        await stream.ReadExactlyAsync(bytes, ct).ConfigureAwait(false);
        await stream.VerifyToEndAsync(ct).ConfigureAwait(false);
        return bytes;
    }

    /// <summary>Removes a blob found damaged and says so; the exception names it and what to do.</summary>
    public CorruptBlobException Discard(Digest digest, string why)
    {
        Delete(digest);
        return new CorruptBlobException(digest, why);
    }

    /// <summary>A writer into a private temp file; commit it to make the blob visible.</summary>
    public BlobWriter CreateWriter() => new(this, Path.Combine(_ingest, $"{Environment.ProcessId}-{Guid.NewGuid():N}"));

    /// <summary>Copies a stream into the store, verifying digest and size when they are known.</summary>
    public async Task<Descriptor> IngestAsync(Stream source, string mediaType, Digest? expected = null, long? expectedSize = null, CancellationToken ct = default)
    {
        if (expected is { } e && expectedSize is { } s && SizeOf(e) == s)
            return new Descriptor(mediaType, e, s);
        await using var writer = CreateWriter();
        await source.CopyToAsync(writer, 1 << 20, ct).ConfigureAwait(false);
        var (digest, size) = await writer.CommitAsync(expected, expectedSize, ct).ConfigureAwait(false);
        return new Descriptor(mediaType, digest, size);
    }

    public async Task<Descriptor> WriteBytesAsync(ReadOnlyMemory<byte> data, string mediaType, CancellationToken ct = default)
    {
        var digest = Digest.Compute(data.Span);
        if (SizeOf(digest) == data.Length) return new Descriptor(mediaType, digest, data.Length);
        await using var writer = CreateWriter();
        await writer.WriteAsync(data, ct).ConfigureAwait(false);
        await writer.CommitAsync(digest, data.Length, ct).ConfigureAwait(false);
        return new Descriptor(mediaType, digest, data.Length);
    }

    public IEnumerable<Digest> List()
    {
        if (!Directory.Exists(_blobs)) yield break;
        foreach (var algDir in Directory.EnumerateDirectories(_blobs))
            foreach (var file in Directory.EnumerateFiles(algDir))
                if (Digest.TryParse($"{Path.GetFileName(algDir)}:{Path.GetFileName(file)}", out var d))
                    yield return d;
    }

    /// <summary>Removes a blob; returns the bytes freed.</summary>
    public long Delete(Digest digest)
    {
        var info = new FileInfo(BlobPath(digest));
        if (!info.Exists) return 0;
        long size = info.Length;
        info.Delete();
        return size;
    }

    /// <summary>
    /// A path for a private temp file of this process (an ADD download, say) in the ingest directory: if the
    /// process is killed, the next img command of any kind removes it (<see cref="CleanIngest"/>).
    /// </summary>
    public string NewTempPath(string purpose) => Path.Combine(_ingest, $"{Environment.ProcessId}-{Guid.NewGuid():N}.{purpose}");

    /// <summary>Removes temp files left by processes that no longer run.</summary>
    public void CleanIngest()
    {
        foreach (var file in Directory.EnumerateFiles(_ingest))
        {
            var name = Path.GetFileName(file);
            int dash = name.IndexOf('-');
            if (dash > 0 && int.TryParse(name[..dash], out int pid) && !ProcessAlive(pid))
                TryDelete(file);
        }
    }

    private static bool ProcessAlive(int pid) => pid == Environment.ProcessId || Directory.Exists($"/proc/{pid}");

    internal static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    internal void Publish(string tempPath, Digest digest)
    {
        var final = BlobPath(digest);
        Directory.CreateDirectory(Path.GetDirectoryName(final)!);
        // rename(2) is atomic; when another process committed the same blob first, theirs stays.
        File.Move(tempPath, final, overwrite: true);
        FileSync.Directory(Path.GetDirectoryName(final)!);
    }
}
