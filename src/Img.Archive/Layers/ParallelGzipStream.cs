using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;

namespace Img.Archive.Layers;

/// <summary>
/// A write-only gzip compressor that uses every core, in the manner of pigz: the input is cut into
/// fixed-size blocks, each block is raw-deflated on its own (ending in a sync flush, so it is
/// byte-aligned and not final), and the pieces are written in order as ONE gzip member with the
/// CRC-32 and length of the whole input. Output depends only on the input bytes and the level
/// (never on thread count or write sizes), so a layer's digest is reproducible.
/// Memory is bounded and reached early: one block more than there are cores is in flight (the writer filling the next
/// block needs a core too), so a layer of a few blocks already uses what a layer of thousands uses; two per core, as
/// before, added memory for long layers and no speed.
/// Unlike pigz, blocks do not prime their window with the previous block's tail (.NET's deflate has
/// no preset dictionary), which costs a fraction of a percent of ratio.
/// </summary>
public sealed class ParallelGzipStream : ForwardWriteStream
{
    /// <summary>The default block size: 1 MiB, as pigz uses (128 KiB) scaled for layer sizes.</summary>
    public const int DefaultBlockSize = 1 << 20;

    // Go's compress/gzip header: no name, mtime 0, XFL 0, OS 255 (unknown).
    private static readonly byte[] Header = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    private static readonly byte[] EmptyFinalBlock = [0x03, 0x00];

    private readonly Stream _inner;
    private readonly bool _leaveOpen;
    private readonly int _blockSize;
    private readonly int _level;
    private readonly int _maxInFlight;
    private readonly Queue<Task<Piece>> _inFlight = new();
    private readonly BoundedArrayPool _blocks;
    private readonly BoundedArrayPool _pieces;
    private readonly Crc32 _crc = new();
    private byte[] _block;
    private int _fill;
    private long _length;
    private bool _headerWritten;
    private bool _finished;

    private readonly record struct Piece(byte[] Buffer, int Length);

    private int _running;

    /// <summary>The most blocks that were being deflated at the same moment (evidence of parallelism).</summary>
    internal int PeakConcurrency { get; private set; }

    /// <summary>Compresses into <paramref name="inner"/> at zlib <paramref name="level"/> (1-9) on <paramref name="threads"/> cores.</summary>
    public ParallelGzipStream(Stream inner, int level = 6, int? threads = null, int blockSize = DefaultBlockSize, bool leaveOpen = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 32 * 1024);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(level, 9);
        _inner = inner;
        _leaveOpen = leaveOpen;
        _blockSize = blockSize;
        _level = level;
        _maxInFlight = Math.Max(2, (threads ?? Environment.ProcessorCount) + 1);
        (_blocks, _pieces) = blockSize == DefaultBlockSize ? (DefaultBlocks, DefaultPieces)
            : (new BoundedArrayPool(blockSize, _maxInFlight + 1), new BoundedArrayPool(PieceCapacity(blockSize), _maxInFlight + 1));
        _block = _blocks.Rent();
    }

    // The arrays of every stream with the default block size: as many as the streams of a build have in flight at
    // once are kept, however many blocks pass. The shared ArrayPool kept a block on every pool thread that ever
    // returned one (a block is rented here and returned on a deflate thread), so its holdings grew with the length
    // of the layer and the number of threads that had touched it.
    private static readonly BoundedArrayPool DefaultBlocks = new(DefaultBlockSize, Environment.ProcessorCount + 2);
    private static readonly BoundedArrayPool DefaultPieces = new(PieceCapacity(DefaultBlockSize), Environment.ProcessorCount + 2);

    /// <summary>Room for a block's output either way: deflate's worst case (zlib's bound is about 0.03 % over) or stored blocks (5 bytes per 64 KiB).</summary>
    private static int PieceCapacity(int blockSize) => blockSize + (blockSize >> 3) + 1024;

    public override bool CanWrite => !_finished;
    public override long Position { get => _length; set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        var copy = ArrayPool<byte>.Shared.Rent(buffer.Length);
        try
        {
            buffer.CopyTo(copy);
            WriteAsync(copy.AsMemory(0, buffer.Length)).AsTask().GetAwaiter().GetResult();
        }
        finally { ArrayPool<byte>.Shared.Return(copy); }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken ct) => WriteAsync(buffer.AsMemory(offset, count), ct).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        while (buffer.Length > 0)
        {
            var n = Math.Min(buffer.Length, _blockSize - _fill);
            buffer.Span[..n].CopyTo(_block.AsSpan(_fill));
            _fill += n;
            buffer = buffer[n..];
            if (_fill == _blockSize) await SubmitAsync(final: false, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Nothing is flushed early: a partial block stays until it fills, so output stays deterministic.</summary>
    public override void Flush() { }

    public override Task FlushAsync(CancellationToken ct) => Task.CompletedTask;

    /// <summary>Compresses the last block, writes the gzip trailer and flushes the inner stream.</summary>
    public async ValueTask FinishAsync(CancellationToken ct = default)
    {
        if (_finished) return;
        await SubmitAsync(final: true, ct).ConfigureAwait(false);
        while (_inFlight.Count > 0) await DrainOneAsync(ct).ConfigureAwait(false);
        var trailer = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(trailer, _crc.GetCurrentHashAsUInt32());
        BinaryPrimitives.WriteUInt32LittleEndian(trailer.AsSpan(4), (uint)_length);
        await _inner.WriteAsync(trailer, ct).ConfigureAwait(false);
        await _inner.FlushAsync(ct).ConfigureAwait(false);
        _finished = true;
    }

    private async ValueTask SubmitAsync(bool final, CancellationToken ct)
    {
        if (!_headerWritten)
        {
            await _inner.WriteAsync(Header, ct).ConfigureAwait(false);
            _headerWritten = true;
        }
        var block = _block;
        var length = _fill;
        _crc.Append(block.AsSpan(0, length));
        _length += length;
        _inFlight.Enqueue(Task.Run(() =>
        {
            var now = Interlocked.Increment(ref _running);
            if (now > PeakConcurrency) PeakConcurrency = now; // a racy max is fine for a diagnostic
            try { return Deflate(block, length, final, _level, _blocks, _pieces); }
            finally { Interlocked.Decrement(ref _running); }
        }, ct));
        _block = final ? [] : _blocks.Rent();
        _fill = 0;
        while (_inFlight.Count >= _maxInFlight) await DrainOneAsync(ct).ConfigureAwait(false);
    }

    private async ValueTask DrainOneAsync(CancellationToken ct)
    {
        var piece = await _inFlight.Dequeue().ConfigureAwait(false);
        try { await _inner.WriteAsync(piece.Buffer.AsMemory(0, piece.Length), ct).ConfigureAwait(false); }
        finally { _pieces.Return(piece.Buffer); }
    }

    private static Piece Deflate(byte[] block, int length, bool final, int level, BoundedArrayPool blocks, BoundedArrayPool pieces)
    {
        try
        {
            if (length > 0 && Incompressibility.IsIncompressible(block.AsSpan(0, length))) return Stored(block.AsSpan(0, length), final, pieces.Rent());
            using var output = new PieceBuffer(pieces.Rent());
            int used;
            var deflate = new DeflateStream(output, new ZLibCompressionOptions { CompressionLevel = level }, leaveOpen: true);
            deflate.Write(block, 0, length);
            if (final)
            {
                deflate.Dispose(); // Z_FINISH: the last block carries BFINAL
                used = (int)output.Length;
                if (used == 0) output.Write(EmptyFinalBlock);
                used = (int)output.Length;
            }
            else
            {
                deflate.Flush(); // Z_SYNC_FLUSH: byte-aligned, ends in an empty stored block, not final
                used = (int)output.Length;
                deflate.Dispose(); // its final block is past 'used' and discarded
            }
            return new Piece(output.Detach(), used);
        }
        finally { blocks.Return(block); }
    }

    /// <summary>
    /// The block as deflate stored blocks (at most 65,535 bytes each): random or already-compressed data costs
    /// deflate's full match search for no gain, and copying it is two orders of magnitude faster. Pieces start
    /// byte-aligned (the one before ended in a sync flush or in stored blocks), so a stored header is one byte.
    /// </summary>
    private static Piece Stored(ReadOnlySpan<byte> data, bool final, byte[] buffer)
    {
        const int MaxStored = 65535;
        int at = 0;
        for (int offset = 0; offset < data.Length; offset += MaxStored)
        {
            int n = Math.Min(MaxStored, data.Length - offset);
            bool last = final && offset + n == data.Length;
            buffer[at++] = (byte)(last ? 1 : 0); // BFINAL, BTYPE=00 (stored), then padding to the byte boundary
            BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(at), (ushort)n);
            BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(at + 2), (ushort)~n);
            at += 4;
            data.Slice(offset, n).CopyTo(buffer.AsSpan(at));
            at += n;
        }
        return new Piece(buffer, at);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            FinishAsync().AsTask().GetAwaiter().GetResult();
            if (!_leaveOpen) _inner.Dispose();
        }
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await FinishAsync().ConfigureAwait(false);
        if (!_leaveOpen) await _inner.DisposeAsync().ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// A write-only buffer over a piece array. It never grows for a block (the array has room for deflate's worst
    /// case); should it ever, a larger array is made and the piece array is simply dropped.
    /// </summary>
    private sealed class PieceBuffer(byte[] buffer) : ForwardWriteStream
    {
        private byte[] _buf = buffer;
        private int _len;

        public byte[] Detach()
        {
            var b = _buf;
            _buf = [];
            return b;
        }

        public override long Length => _len;

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (_len + buffer.Length > _buf.Length)
            {
                var bigger = GC.AllocateUninitializedArray<byte>(Math.Max(_buf.Length * 2, _len + buffer.Length));
                _buf.AsSpan(0, _len).CopyTo(bigger);
                _buf = bigger;
            }
            buffer.CopyTo(_buf.AsSpan(_len));
            _len += buffer.Length;
        }
    }
}

/// <summary>
/// Arrays of one length kept for reuse, at most <paramref name="keep"/> of them; more are made when needed and left to
/// the GC when returned. What it holds is bounded by its peak use, whichever threads rent and return.
/// </summary>
internal sealed class BoundedArrayPool(int length, int keep)
{
    private readonly Stack<byte[]> _free = new();
    private readonly Lock _gate = new();

    public byte[] Rent()
    {
        lock (_gate)
            if (_free.TryPop(out var array)) return array;
        return GC.AllocateUninitializedArray<byte>(length);
    }

    /// <summary>Takes <paramref name="array"/> back (an array of another length, or one past the bound, is dropped).</summary>
    public void Return(byte[] array)
    {
        if (array.Length != length) return;
        lock (_gate)
            if (_free.Count < keep) _free.Push(array);
    }
}
