using System.Buffers;
using System.Text;

namespace Img.Archive.Layers;

/// <summary>
/// Writes layer tar entries the way Go's archive/tar does for docker and BuildKit: a ustar header,
/// preceded by a PAX 'x' header when a name is long or not ASCII, an id or size does not fit, or the
/// entry has xattrs. uname/gname are left empty, atime/ctime are not written, mtime is whole seconds.
/// Content is streamed; the writer never holds a file in memory.
/// </summary>
public sealed class TarStreamWriter : IAsyncDisposable
{
    private const int BlockSize = 512;
    private const long MaxOctal7 = 0x1FFFFF;           // 07777777
    private const long MaxOctal11 = 0x1FFFFFFFF;       // 077777777777
    private readonly Stream _stream;
    private readonly byte[] _block = new byte[BlockSize];
    private bool _closed;

    /// <summary>Writes into <paramref name="stream"/>, which stays open.</summary>
    public TarStreamWriter(Stream stream) => _stream = stream;

    /// <summary>
    /// Writes one entry. For regular files <paramref name="content"/> must yield exactly
    /// <see cref="TarHeader.Size"/> bytes (a file that changed size while being read is an error).
    /// </summary>
    public async ValueTask WriteEntryAsync(TarHeader h, Stream? content, CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        var name = h.Kind == TarEntryKind.Directory ? h.Name + "/" : h.Name;
        var size = h.Kind == TarEntryKind.File ? h.Size : 0;
        var pax = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        if (!FitsUstar(name, 100)) pax["path"] = Encoding.UTF8.GetBytes(name);
        if (!FitsUstar(h.LinkName, 100)) pax["linkpath"] = Encoding.UTF8.GetBytes(h.LinkName);
        if (h.Uid is < 0 or > MaxOctal7) pax["uid"] = Ascii(h.Uid);
        if (h.Gid is < 0 or > MaxOctal7) pax["gid"] = Ascii(h.Gid);
        if (size > MaxOctal11) pax["size"] = Ascii(size);
        if (h.MtimeSec is < 0 or > MaxOctal11) pax["mtime"] = Ascii(h.MtimeSec);
        foreach (var (k, v) in h.Xattrs) pax["SCHILY.xattr." + k] = v;

        if (pax.Count > 0)
        {
            var records = EncodePax(pax);
            var paxName = PaxHeaderName(name);
            FillHeader(paxName, 'x', 0, 0, 0, records.Length, 0, "", 0, 0);
            await _stream.WriteAsync(_block, ct).ConfigureAwait(false);
            await _stream.WriteAsync(records, ct).ConfigureAwait(false);
            await PadAsync(records.Length, ct).ConfigureAwait(false);
        }

        var type = h.Kind switch
        {
            TarEntryKind.File => '0',
            TarEntryKind.HardLink => '1',
            TarEntryKind.Symlink => '2',
            TarEntryKind.CharDevice => '3',
            TarEntryKind.BlockDevice => '4',
            TarEntryKind.Directory => '5',
            TarEntryKind.Fifo => '6',
            _ => throw new ArgumentOutOfRangeException(nameof(h)),
        };
        FillHeader(Truncate(name, 100), type, h.Mode & 0xFFF, Clamp(h.Uid, MaxOctal7), Clamp(h.Gid, MaxOctal7),
            Clamp(size, MaxOctal11), Clamp(h.MtimeSec, MaxOctal11), Truncate(h.LinkName, 100), h.DevMajor, h.DevMinor);
        await _stream.WriteAsync(_block, ct).ConfigureAwait(false);
        if (size > 0)
        {
            if (content is null) throw new ArgumentNullException(nameof(content), $"{h.Name}: content is required for a non-empty file");
            await CopyExactAsync(content, size, h.Name, ct).ConfigureAwait(false);
            await PadAsync(size, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Writes the end-of-archive marker (two zero blocks). The underlying stream stays open.</summary>
    public async ValueTask CloseAsync(CancellationToken ct = default)
    {
        if (_closed) return;
        _closed = true;
        Array.Clear(_block);
        await _stream.WriteAsync(_block, ct).ConfigureAwait(false);
        await _stream.WriteAsync(_block, ct).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => CloseAsync();

    private async ValueTask CopyExactAsync(Stream content, long size, string name, CancellationToken ct)
    {
        // No larger than the file: a 256 KiB array for every small file went to the large object heap, on whichever
        // thread the copy resumed, and more of them were held the longer the layer.
        var buf = ArrayPool<byte>.Shared.Rent((int)Math.Clamp(size, 1, 256 * 1024));
        try
        {
            var left = size;
            while (left > 0)
            {
                var n = await content.ReadAsync(buf.AsMemory(0, (int)Math.Min(buf.Length, left)), ct).ConfigureAwait(false);
                if (n == 0) throw new IOException($"{name}: file shrank while being written to the layer ({size - left} of {size} bytes)");
                await _stream.WriteAsync(buf.AsMemory(0, n), ct).ConfigureAwait(false);
                left -= n;
            }
        }
        finally { ArrayPool<byte>.Shared.Return(buf); }
    }

    private async ValueTask PadAsync(long size, CancellationToken ct)
    {
        var pad = (int)((BlockSize - size % BlockSize) % BlockSize);
        if (pad == 0) return;
        Array.Clear(_block);
        await _stream.WriteAsync(_block.AsMemory(0, pad), ct).ConfigureAwait(false);
    }

    private void FillHeader(string name, char type, uint mode, long uid, long gid, long size, long mtime, string link, uint devMajor, uint devMinor)
    {
        var b = _block.AsSpan();
        b.Clear();
        Encoding.UTF8.GetBytes(name, b[..100]);
        Octal(b.Slice(100, 8), mode);
        Octal(b.Slice(108, 8), uid);
        Octal(b.Slice(116, 8), gid);
        Octal(b.Slice(124, 12), size);
        Octal(b.Slice(136, 12), mtime);
        b[156] = (byte)type;
        Encoding.UTF8.GetBytes(link, b.Slice(157, 100));
        "ustar\0"u8.CopyTo(b[257..]);
        "00"u8.CopyTo(b[263..]);
        Octal(b.Slice(329, 8), devMajor);
        Octal(b.Slice(337, 8), devMinor);
        b.Slice(148, 8).Fill((byte)' ');
        long sum = 0;
        foreach (var c in _block) sum += c;
        Octal(b.Slice(148, 7), sum); // six digits, NUL, then the space already there
    }

    private static void Octal(Span<byte> field, long value)
    {
        var digits = field.Length - 1;
        for (var i = digits - 1; i >= 0; i--)
        {
            field[i] = (byte)('0' + (value & 7));
            value >>= 3;
        }
        field[digits] = 0;
    }

    private static bool FitsUstar(string s, int max) => s.Length <= max && Ascii7(s) && Encoding.ASCII.GetByteCount(s) <= max;

    private static bool Ascii7(string s)
    {
        foreach (var c in s) if (c is >= (char)0x80 or '\0') return false;
        return true;
    }

    private static string Truncate(string s, int max)
    {
        if (FitsUstar(s, max)) return s;
        // The real value is in the PAX header; keep an ASCII prefix for readers that ignore PAX.
        var sb = new StringBuilder();
        foreach (var c in s)
        {
            if (sb.Length == max) break;
            sb.Append(c < 0x80 && c != 0 ? c : '_');
        }
        return sb.ToString();
    }

    private static long Clamp(long v, long max) => v < 0 ? 0 : Math.Min(v, max);

    private static byte[] Ascii(long v) => Encoding.ASCII.GetBytes(v.ToString(System.Globalization.CultureInfo.InvariantCulture));

    private static string PaxHeaderName(string name)
    {
        var trimmed = name.TrimEnd('/');
        var slash = trimmed.LastIndexOf('/');
        var dir = slash < 0 ? "" : trimmed[..slash] + "/";
        var file = slash < 0 ? trimmed : trimmed[(slash + 1)..];
        return Truncate(dir + "PaxHeaders.0/" + file, 100);
    }

    private static byte[] EncodePax(SortedDictionary<string, byte[]> records)
    {
        using var ms = new MemoryStream();
        foreach (var (key, value) in records)
        {
            var keyBytes = Encoding.UTF8.GetBytes(key);
            var body = 1 + keyBytes.Length + 1 + value.Length + 1; // ' ' key '=' value '\n'
            var len = body + 1;
            while (len != body + len.ToString(System.Globalization.CultureInfo.InvariantCulture).Length)
                len = body + len.ToString(System.Globalization.CultureInfo.InvariantCulture).Length;
            ms.Write(Encoding.ASCII.GetBytes(len.ToString(System.Globalization.CultureInfo.InvariantCulture) + " "));
            ms.Write(keyBytes);
            ms.WriteByte((byte)'=');
            ms.Write(value);
            ms.WriteByte((byte)'\n');
        }
        return ms.ToArray();
    }
}
