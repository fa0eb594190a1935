using System.Security.Cryptography;
using Img.Oci;

namespace Img.Content;

/// <summary>
/// A write-only stream into the content store that digests the bytes as they pass.
/// Nothing is visible until <see cref="CommitAsync"/> verifies them; disposing an
/// uncommitted writer deletes its temp file.
/// </summary>
public sealed class BlobWriter : Stream
{
    private readonly ContentStore _store;
    private readonly string _tempPath;
    private readonly FileStream _file;
    private readonly IncrementalHash _sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private long _written;
    private bool _committed;

    internal BlobWriter(ContentStore store, string tempPath)
    {
        _store = store;
        _tempPath = tempPath;
        _file = new FileStream(tempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
    }

    public long Written => _written;

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => _written;
    public override long Position { get => _written; set => throw new NotSupportedException("blob writers only append"); }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _sha256.AppendData(buffer);
        _file.Write(buffer);
        _written += buffer.Length;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        _sha256.AppendData(buffer.Span);
        await _file.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        _written += buffer.Length;
    }

    public override void Flush() => _file.Flush();
    public override Task FlushAsync(CancellationToken cancellationToken) => _file.FlushAsync(cancellationToken);
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("blob writers are write-only");
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("blob writers only append");
    public override void SetLength(long value) => throw new NotSupportedException("blob writers only append");

    /// <summary>Flushes to disk, verifies, and makes the blob visible under its digest.</summary>
    public async Task<(Digest Digest, long Size)> CommitAsync(Digest? expected = null, long? expectedSize = null, CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_committed, this);
        await _file.FlushAsync(ct).ConfigureAwait(false);
        _file.Flush(flushToDisk: true);
        await _file.DisposeAsync().ConfigureAwait(false);
        var digest = Digest.FromSha256(_sha256.GetHashAndReset());
        if (expectedSize is { } size && size != _written)
            throw new DigestMismatchException($"size mismatch for {expected?.ToString() ?? digest.ToString()}: expected {size} bytes, got {_written}");
        if (expected is { } e && e != digest)
        {
            if (e.Algorithm != "sha256")
                throw new DigestMismatchException($"unsupported digest algorithm {e.Algorithm}");
            throw new DigestMismatchException($"digest mismatch: expected {e}, got {digest}");
        }
        _store.Publish(_tempPath, digest);
        _committed = true;
        return (digest, _written);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _file.Dispose();
            _sha256.Dispose();
            if (!_committed) ContentStore.TryDelete(_tempPath);
            _committed = true;
        }
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await _file.DisposeAsync().ConfigureAwait(false);
        Dispose(true);
        GC.SuppressFinalize(this);
    }
}
