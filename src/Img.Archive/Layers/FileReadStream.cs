using Microsoft.Win32.SafeHandles;

namespace Img.Archive.Layers;

/// <summary>
/// A regular file read front to back with plain <c>open</c> and <c>pread</c>: no advisory lock (a .NET FileStream
/// takes and drops an flock on every open), no thread-pool hop per read (asynchronous reads of a regular file are
/// queued to the pool on Linux). Context and snapshot files are read by the thousand and come from the page cache,
/// where a synchronous read is the fast one. The final component is never followed.
/// </summary>
public sealed class FileReadStream : ForwardReadStream
{
    private readonly SafeFileHandle _handle;
    private readonly string _path;
    private long _offset;

    private FileReadStream(SafeFileHandle handle, string path) => (_handle, _path) = (handle, path);

    /// <summary>Opens <paramref name="path"/> for reading.</summary>
    /// <exception cref="IOException">It cannot be opened (missing, a symlink, no permission).</exception>
    public static FileReadStream Open(string path) =>
        new(new SafeFileHandle(Native.OpenAtOrThrow(Native.AT_FDCWD, path, Native.O_RDONLY | Native.O_NOFOLLOW, 0, path), ownsHandle: true), path);

    public override int Read(Span<byte> buffer)
    {
        // pread on the descriptor itself: RandomAccess first asks each new handle whether it can seek (an lseek per file).
        var n = Native.Pread((int)_handle.DangerousGetHandle(), buffer, _offset);
        if (n < 0) throw new NativeException("read", _path, (int)-n);
        _offset += n;
        return (int)n;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Read(buffer.Span));
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _handle.Dispose();
        base.Dispose(disposing);
    }
}
