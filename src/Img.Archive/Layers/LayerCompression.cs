using System.IO.Compression;
using Img.Oci;
using ZstdSharp;
using ZstdSharp.Unsafe;

namespace Img.Archive.Layers;

/// <summary>Compression settings for writing a layer.</summary>
public sealed record CompressionOptions
{
    /// <summary>gzip level 1-9 (default 6, as docker and pigz) or zstd level 1-19 (default 3).</summary>
    public int? Level { get; init; }
    /// <summary>Cores to compress on; default all of them.</summary>
    public int? Threads { get; init; }
}

/// <summary>Opens decompressing and compressing streams for layer blobs.</summary>
public static class LayerCompression
{
    /// <summary>The compression a blob's first bytes announce: gzip 1f 8b, zstd 28 b5 2f fd, else none.</summary>
    public static Compression Detect(ReadOnlySpan<byte> magic) => magic switch
    {
        [0x1f, 0x8b, ..] => Compression.Gzip,
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression.Zstd,
        _ => Compression.None,
    };

    /// <summary>
    /// Sniffs the first bytes of <paramref name="blob"/> and returns a stream of the uncompressed tar.
    /// Disposing the result disposes <paramref name="blob"/> unless <paramref name="leaveOpen"/>.
    /// </summary>
    public static async Task<Stream> OpenDecompressingAsync(Stream blob, bool leaveOpen = false, CancellationToken ct = default)
    {
        var magic = new byte[4];
        var got = 0;
        while (got < magic.Length)
        {
            var n = await blob.ReadAsync(magic.AsMemory(got), ct).ConfigureAwait(false);
            if (n == 0) break;
            got += n;
        }
        var replay = new PrefixedStream(magic.AsMemory(0, got), blob, leaveOpen);
        return OpenDecompressing(replay, Detect(magic.AsSpan(0, got)));
    }

    /// <summary>A decompressing stream for a known compression (from the media type).</summary>
    public static Stream OpenDecompressing(Stream blob, Compression compression) => compression switch
    {
        Compression.None => blob,
        Compression.Gzip => new GZipStream(blob, CompressionMode.Decompress), // reads multi-member gzip too
        Compression.Zstd => new DecompressionStream(blob),
        _ => throw new ArgumentOutOfRangeException(nameof(compression)),
    };

    /// <summary>A decompressing stream for a layer media type (e.g. application/vnd.oci.image.layer.v1.tar+zstd).</summary>
    public static Stream OpenDecompressing(Stream blob, string mediaType) => OpenDecompressing(blob, MediaTypes.LayerCompression(mediaType));

    /// <summary>
    /// A compressing write stream into <paramref name="destination"/> (left open). Gzip is the parallel,
    /// deterministic <see cref="ParallelGzipStream"/>; zstd runs zstd's own worker threads.
    /// Dispose the result to write the trailer.
    /// </summary>
    public static Stream OpenCompressing(Stream destination, Compression compression, CompressionOptions? options = null)
    {
        options ??= new CompressionOptions();
        var threads = Math.Max(1, options.Threads ?? Environment.ProcessorCount);
        switch (compression)
        {
            case Compression.None:
                return new NonClosingStream(destination);
            case Compression.Gzip:
                return new ParallelGzipStream(destination, options.Level ?? 6, threads, leaveOpen: true);
            case Compression.Zstd:
                var zstd = new CompressionStream(destination, options.Level ?? 3, leaveOpen: true);
                // Multithreaded zstd output does not depend on the worker count (only on level and job size).
                if (threads > 1) zstd.SetParameter(ZSTD_cParameter.ZSTD_c_nbWorkers, threads);
                zstd.SetParameter(ZSTD_cParameter.ZSTD_c_checksumFlag, 1);
                return zstd;
            default:
                throw new ArgumentOutOfRangeException(nameof(compression));
        }
    }
}

/// <summary>Replays bytes already read (a sniffed magic number) before the rest of a stream.</summary>
internal sealed class PrefixedStream(ReadOnlyMemory<byte> prefix, Stream inner, bool leaveOpen) : ForwardReadStream
{
    private ReadOnlyMemory<byte> _prefix = prefix;

    public override int Read(Span<byte> buffer)
    {
        if (_prefix.Length == 0) return inner.Read(buffer);
        var n = Math.Min(buffer.Length, _prefix.Length);
        _prefix.Span[..n].CopyTo(buffer);
        _prefix = _prefix[n..];
        return n;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        if (_prefix.Length == 0) return inner.ReadAsync(buffer, ct);
        var n = Math.Min(buffer.Length, _prefix.Length);
        _prefix.Span[..n].CopyTo(buffer.Span);
        _prefix = _prefix[n..];
        return ValueTask.FromResult(n);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && !leaveOpen) inner.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>Passes writes through and leaves the inner stream open on dispose (the "no compression" compressor).</summary>
internal sealed class NonClosingStream(Stream inner) : ForwardWriteStream
{
    public override void Flush() => inner.Flush();
    public override Task FlushAsync(CancellationToken ct) => inner.FlushAsync(ct);
    public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);
    public override void Write(ReadOnlySpan<byte> buffer) => inner.Write(buffer);
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken ct) => inner.WriteAsync(buffer, offset, count, ct);
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default) => inner.WriteAsync(buffer, ct);
}
