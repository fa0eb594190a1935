using System.Text;

namespace Img.Build;

/// <summary>A write-only stream that cuts what a process prints into lines and hands each to a callback.</summary>
internal sealed class LineStream(Action<string> onLine) : Stream
{
    private readonly object _gate = new();
    private readonly MemoryStream _partial = new();

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        lock (_gate)
        {
            foreach (var b in buffer)
            {
                if (b == (byte)'\n') Emit();
                else _partial.WriteByte(b);
            }
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        Write(buffer.AsSpan(offset, count));
        return Task.CompletedTask;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    /// <summary>Emits a final line that had no newline.</summary>
    public override void Flush()
    {
        lock (_gate)
        {
            if (_partial.Length > 0) Emit();
        }
    }

    private void Emit()
    {
        var line = Encoding.UTF8.GetString(_partial.GetBuffer(), 0, (int)_partial.Length).TrimEnd('\r');
        _partial.SetLength(0);
        onLine(line);
    }
}
