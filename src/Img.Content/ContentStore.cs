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

    public Stream OpenRead(Digest digest)
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

    public async Task<byte[]> ReadAllBytesAsync(Digest digest, CancellationToken ct = default)
    {
        try
        {
            return await File.ReadAllBytesAsync(BlobPath(digest), ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new BlobNotFoundException(digest);
        }
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
