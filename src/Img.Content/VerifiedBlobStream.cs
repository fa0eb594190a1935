using Img.Oci;

namespace Img.Content;

/// <summary>
/// A stored blob read through its digest: the bytes are hashed as they pass, and when the last byte of the
/// file has been read the hash must match the blob's name. A blob damaged on disk (a flipped byte, a
/// truncation) is removed from the store and the read fails with <see cref="CorruptBlobException"/>, so
/// nothing built, saved or pushed from it goes out, and the next pull fetches it again. No extra pass:
/// readers that stop early (a compression sniff) simply get no verdict; <see cref="VerifyToEndAsync"/>
/// reads the rest for those that need one.
/// </summary>
public sealed class VerifiedBlobStream : Stream
{
    private readonly ContentStore _store;
    private readonly Digest _digest;
    private readonly FileStream _file;
    private readonly System.Security.Cryptography.IncrementalHash _hash;
    private readonly long _length;
    private long _read;
    private bool _verified;

    internal VerifiedBlobStream(ContentStore store, Digest digest, FileStream file)
    {
        _store = store;
        _digest = digest;
        _file = file;
        _length = file.Length;
        _hash = digest.CreateHash();
    }

    public Digest Digest => _digest;
    public override bool CanRead => true;
    // Seekable only in name: Length and Position are known, which is what writers of tar entries and HTTP bodies
    // ask (an unseekable entry stream would be buffered whole); moving is not possible, the hash runs forward.
    public override bool CanSeek => true;
    public override bool CanWrite => false;
    public override long Length => _length;
    public override long Position { get => _read; set => Seek(value, SeekOrigin.Begin); }

    public override long Seek(long offset, SeekOrigin origin)
    {
        long target = origin switch { SeekOrigin.Begin => offset, SeekOrigin.Current => _read + offset, _ => _length + offset };
        return target == _read ? _read : throw new NotSupportedException("blobs are read forward, through their digest");
    }
    public override void SetLength(long value) => throw new NotSupportedException("blobs are read-only");
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("blobs are read-only");
    public override void Flush() { }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = _file.Read(buffer);
        Account(buffer[..n], buffer.Length);
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n = await _file.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        Account(buffer.Span[..n], buffer.Length);
        return n;
    }

    /// <summary>Reads what the consumer left (tar padding after the end marker, say) and checks the digest.</summary>
    public async Task VerifyToEndAsync(CancellationToken ct = default)
    {
        var buffer = new byte[1 << 16];
        while (!_verified && await ReadAsync(buffer, ct).ConfigureAwait(false) > 0) { }
        if (!_verified) Check();
    }

    private void Account(ReadOnlySpan<byte> data, int requested)
    {
        if (_verified) return;
        _hash.AppendData(data);
        _read += data.Length;
        // Checked as the last byte passes, not at a later zero-length read some consumers never make;
        // a file that shrank since it was opened ends early and is checked at its end.
        if (_read >= _length || (data.Length == 0 && requested > 0)) Check();
    }

    private void Check()
    {
        _verified = true;
        var actual = Convert.ToHexStringLower(_hash.GetHashAndReset());
        if (actual != _digest.Hex)
            throw _store.Discard(_digest, $"its {_read} bytes hash to {_digest.Algorithm}:{actual}");
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _file.Dispose();
            _hash.Dispose();
        }
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await _file.DisposeAsync().ConfigureAwait(false);
        _hash.Dispose();
        await base.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>A stored blob whose bytes no longer match its digest; it has been removed from the store.</summary>
public sealed class CorruptBlobException(Digest digest, string why)
    : ContentException($"blob {digest} is damaged in the store ({why}) and was removed: pull or build the image that needs it again (img fsck lists what is affected)")
{
    public Digest Digest { get; } = digest;

    /// <summary>What was wrong with it.</summary>
    public string Why { get; } = why;
}
