using System.Text;

namespace Img.Runtime.Oci;

/// <summary>Passes writes on to another stream and keeps the last few bytes, to quote a failing program's last words.</summary>
internal sealed class TailStream(Stream inner, int keep) : Stream
{
    private readonly byte[] _tail = new byte[keep];
    private int _length;

    /// <summary>The last non-empty line written, or null.</summary>
    public string? LastLine()
    {
        var text = Encoding.UTF8.GetString(_tail, 0, _length);
        return text.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.Length > 0);
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        inner.Write(buffer);
        Keep(buffer);
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        Keep(buffer.Span);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private void Keep(ReadOnlySpan<byte> data)
    {
        if (data.Length >= _tail.Length)
        {
            data[^_tail.Length..].CopyTo(_tail);
            _length = _tail.Length;
            return;
        }
        var overflow = Math.Max(0, _length + data.Length - _tail.Length);
        if (overflow > 0)
        {
            Buffer.BlockCopy(_tail, overflow, _tail, 0, _length - overflow);
            _length -= overflow;
        }
        data.CopyTo(_tail.AsSpan(_length));
        _length += data.Length;
    }

    public override void Flush() => inner.Flush();
    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}

/// <summary>The OCI runtime itself failed (as opposed to the command it ran).</summary>
public sealed class OciRuntimeException(string message) : IOException(message);
