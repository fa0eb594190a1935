using System.Buffers;
using System.Text;

namespace Img.Archive.Layers;

/// <summary>
/// Reads ustar, PAX and GNU tar streams forward-only, one entry at a time, with each entry's
/// content exposed as a bounded stream (never buffered). Understands PAX path/linkpath/size/uid/gid/mtime
/// and SCHILY.xattr.*, GNU long names ('L'/'K') and base-256 numbers; refuses sparse entries.
/// Names that are not valid UTF-8 are decoded with U+FFFD replacement and reported through
/// <see cref="HasInvalidName"/> (.NET paths are strings; the byte-exact name cannot be kept).
/// </summary>
public sealed class TarStreamReader
{
    private const int BlockSize = 512;
    private const int MaxMetaSize = 1 << 20; // a PAX or long-name record larger than this is hostile
    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    private readonly Stream _stream;
    private readonly byte[] _block = new byte[BlockSize];
    private long _remaining; // content bytes of the current entry not yet consumed
    private long _padding;
    private EntryStream? _current;
    private Dictionary<string, string>? _globalPax;

    /// <summary>Reads from <paramref name="stream"/> (already decompressed).</summary>
    public TarStreamReader(Stream stream) => _stream = stream;

    /// <summary>True when the last entry's name or link name was not valid UTF-8.</summary>
    public bool HasInvalidName { get; private set; }

    /// <summary>The content of the current entry; reading past its size returns 0.</summary>
    public Stream Data => _current ?? throw new InvalidOperationException("no current entry");

    /// <summary>The next entry header, or null at the end of the archive.</summary>
    public async ValueTask<TarHeader?> NextAsync(CancellationToken ct = default)
    {
        await SkipRestAsync(ct).ConfigureAwait(false);
        HasInvalidName = false;
        Dictionary<string, byte[]>? pax = null;
        string? longName = null, longLink = null;
        while (true)
        {
            if (!await ReadBlockAsync(ct).ConfigureAwait(false)) return null;
            if (IsZero(_block))
            {
                // End of archive: one or two zero blocks (a second one is optional in practice).
                return null;
            }
            VerifyChecksum();
            var type = (char)_block[156];
            var size = ParseNumber(_block.AsSpan(124, 12), "size");
            if (size < 0) throw new LayerFormatException("tar entry with a negative size");
            switch (type)
            {
                case 'x':
                    pax = ParsePax(await ReadMetaAsync(size, ct).ConfigureAwait(false));
                    continue;
                case 'g':
                    _globalPax = ParsePax(await ReadMetaAsync(size, ct).ConfigureAwait(false))
                        .ToDictionary(kv => kv.Key, kv => Encoding.UTF8.GetString(kv.Value));
                    continue;
                case 'L':
                    longName = DecodeName(TrimNul(await ReadMetaAsync(size, ct).ConfigureAwait(false)));
                    continue;
                case 'K':
                    longLink = DecodeName(TrimNul(await ReadMetaAsync(size, ct).ConfigureAwait(false)));
                    continue;
                case 'S':
                    throw new LayerFormatException("sparse tar entries are not supported in layers");
            }
            var header = ParseHeader(type, size);
            if (longName is not null) header.Name = longName;
            if (longLink is not null) header.LinkName = longLink;
            if (_globalPax is not null)
                foreach (var (k, v) in _globalPax)
                    ApplyPax(header, k, Encoding.UTF8.GetBytes(v));
            if (pax is not null)
                foreach (var (k, v) in pax)
                    ApplyPax(header, k, v);
            header.Name = NormalizeName(header.Name);
            var dataSize = header.Size;
            var pad = (BlockSize - dataSize % BlockSize) % BlockSize;
            if (header.Kind == TarEntryKind.File)
            {
                _remaining = dataSize;
                _padding = pad;
            }
            else
            {
                // Only regular files carry content in layers; anything else declared is skipped.
                _remaining = 0;
                _padding = dataSize + pad;
                header.Size = 0;
            }
            _current = new EntryStream(this);
            return header;
        }
    }

    private TarHeader ParseHeader(char type, long size)
    {
        var b = _block.AsSpan();
        var magicUstar = b.Slice(257, 6).SequenceEqual("ustar\0"u8);
        var name = DecodeName(TrimNul(b[..100]));
        if (magicUstar)
        {
            var prefix = DecodeName(TrimNul(b.Slice(345, 155)));
            if (prefix.Length > 0) name = prefix + "/" + name;
        }
        var kind = type switch
        {
            '0' or '\0' or '7' => TarEntryKind.File,
            '1' => TarEntryKind.HardLink,
            '2' => TarEntryKind.Symlink,
            '3' => TarEntryKind.CharDevice,
            '4' => TarEntryKind.BlockDevice,
            '5' => TarEntryKind.Directory,
            '6' => TarEntryKind.Fifo,
            _ => throw new LayerFormatException($"tar entry {name} has unsupported type '{type}'"),
        };
        if (type == '\0' && name.EndsWith('/')) kind = TarEntryKind.Directory; // old V7 directories
        var h = new TarHeader
        {
            Name = name,
            Kind = kind,
            Mode = (uint)(ParseNumber(b.Slice(100, 8), "mode") & 0xFFF),
            Uid = ParseNumber(b.Slice(108, 8), "uid"),
            Gid = ParseNumber(b.Slice(116, 8), "gid"),
            Size = size,
            MtimeSec = ParseNumber(b.Slice(136, 12), "mtime"),
            LinkName = DecodeName(TrimNul(b.Slice(157, 100))),
        };
        if (kind is TarEntryKind.CharDevice or TarEntryKind.BlockDevice)
        {
            h.DevMajor = (uint)ParseNumber(b.Slice(329, 8), "devmajor");
            h.DevMinor = (uint)ParseNumber(b.Slice(337, 8), "devminor");
        }
        return h;
    }

    private void ApplyPax(TarHeader h, string key, byte[] value)
    {
        string Text() => Encoding.UTF8.GetString(value);
        switch (key)
        {
            case "path": h.Name = DecodeName(value); break;
            case "linkpath": h.LinkName = DecodeName(value); break;
            case "size":
                if (!long.TryParse(Text(), out var size) || size < 0) throw new LayerFormatException($"invalid PAX size '{Text()}'");
                h.Size = size;
                break;
            case "uid": h.Uid = long.TryParse(Text(), out var uid) ? uid : throw new LayerFormatException($"invalid PAX uid '{Text()}'"); break;
            case "gid": h.Gid = long.TryParse(Text(), out var gid) ? gid : throw new LayerFormatException($"invalid PAX gid '{Text()}'"); break;
            case "mtime": ParsePaxTime(h, Text()); break;
            default:
                if (key.StartsWith("SCHILY.xattr.", StringComparison.Ordinal)) h.Xattrs[key["SCHILY.xattr.".Length..]] = value;
                else if (key.StartsWith("GNU.sparse.", StringComparison.Ordinal))
                    throw new LayerFormatException("sparse tar entries are not supported in layers");
                break; // uname, gname, atime, ctime, comment, charset: not part of a layer's meaning
        }
    }

    private static void ParsePaxTime(TarHeader h, string text)
    {
        var dot = text.IndexOf('.');
        var secPart = dot < 0 ? text : text[..dot];
        if (!long.TryParse(secPart, out var sec)) throw new LayerFormatException($"invalid PAX mtime '{text}'");
        h.MtimeSec = sec;
        h.MtimeNsec = 0;
        if (dot >= 0)
        {
            var frac = text[(dot + 1)..];
            frac = frac.Length > 9 ? frac[..9] : frac.PadRight(9, '0');
            if (uint.TryParse(frac, out var ns)) h.MtimeNsec = ns;
        }
    }

    private static Dictionary<string, byte[]> ParsePax(byte[] data)
    {
        var result = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var pos = 0;
        while (pos < data.Length)
        {
            if (data[pos] == 0) break; // NUL padding after the last record
            var sp = Array.IndexOf(data, (byte)' ', pos);
            if (sp < 0 || !int.TryParse(Encoding.ASCII.GetString(data, pos, sp - pos), out var len) || len <= sp - pos || pos + len > data.Length)
                throw new LayerFormatException("malformed PAX extended header");
            var record = data.AsSpan(sp + 1, pos + len - sp - 1);
            if (record.Length == 0 || record[^1] != '\n') throw new LayerFormatException("malformed PAX record");
            var eq = record.IndexOf((byte)'=');
            if (eq <= 0) throw new LayerFormatException("malformed PAX record");
            result[Encoding.UTF8.GetString(record[..eq])] = record[(eq + 1)..^1].ToArray();
            pos += len;
        }
        return result;
    }

    private string DecodeName(ReadOnlySpan<byte> bytes)
    {
        try { return StrictUtf8.GetString(bytes); }
        catch (DecoderFallbackException)
        {
            HasInvalidName = true;
            return Encoding.UTF8.GetString(bytes);
        }
    }

    private static string NormalizeName(string name)
    {
        while (name.StartsWith("./", StringComparison.Ordinal)) name = name[2..];
        if (name == ".") return "";
        return name.TrimEnd('/');
    }

    private static ReadOnlySpan<byte> TrimNul(ReadOnlySpan<byte> s) => s.IndexOf((byte)0) is var i && i >= 0 ? s[..i] : s;

    private static bool IsZero(ReadOnlySpan<byte> b) => !b.ContainsAnyExcept((byte)0);

    private void VerifyChecksum()
    {
        var recorded = ParseNumber(_block.AsSpan(148, 8), "checksum");
        long unsigned = 0, signed = 0;
        for (var i = 0; i < BlockSize; i++)
        {
            var v = i is >= 148 and < 156 ? (byte)' ' : _block[i];
            unsigned += v;
            signed += (sbyte)v;
        }
        if (recorded != unsigned && recorded != signed) throw new LayerFormatException("tar header checksum mismatch (not a tar stream, or corrupt)");
    }

    /// <summary>Octal (NUL/space padded) or GNU base-256 when the high bit is set.</summary>
    private static long ParseNumber(ReadOnlySpan<byte> field, string what)
    {
        if (field.Length > 0 && (field[0] & 0x80) != 0)
        {
            if ((field[0] & 0x40) != 0) throw new LayerFormatException($"negative base-256 {what} in tar header");
            long v = field[0] & 0x3f;
            for (var i = 1; i < field.Length; i++)
            {
                if (v > (long.MaxValue >> 8)) throw new LayerFormatException($"tar {what} overflows");
                v = (v << 8) | field[i];
            }
            return v;
        }
        long n = 0;
        var seen = false;
        foreach (var c in field)
        {
            if (c is 0 or (byte)' ') { if (seen) break; continue; }
            if (c is < (byte)'0' or > (byte)'7') throw new LayerFormatException($"invalid octal {what} in tar header");
            if (n > (long.MaxValue >> 3)) throw new LayerFormatException($"tar {what} overflows");
            n = (n << 3) | (long)(c - '0');
            seen = true;
        }
        return n;
    }

    private async ValueTask<byte[]> ReadMetaAsync(long size, CancellationToken ct)
    {
        if (size > MaxMetaSize) throw new LayerFormatException($"tar extended header of {size} bytes is too large");
        var data = new byte[size];
        await ReadExactAsync(data, ct).ConfigureAwait(false);
        var pad = (int)((BlockSize - size % BlockSize) % BlockSize);
        if (pad > 0) await ReadExactAsync(_block.AsMemory(0, pad), ct).ConfigureAwait(false);
        return data;
    }

    private async ValueTask<bool> ReadBlockAsync(CancellationToken ct)
    {
        var read = 0;
        while (read < BlockSize)
        {
            var n = await _stream.ReadAsync(_block.AsMemory(read), ct).ConfigureAwait(false);
            if (n == 0)
            {
                if (read == 0) return false; // a tar without end-of-archive blocks: accept like GNU tar
                throw new LayerFormatException("unexpected end of tar stream inside a header");
            }
            read += n;
        }
        return true;
    }

    private async ValueTask ReadExactAsync(Memory<byte> buffer, CancellationToken ct)
    {
        try { await _stream.ReadExactlyAsync(buffer, ct).ConfigureAwait(false); }
        catch (EndOfStreamException) { throw new LayerFormatException("unexpected end of tar stream"); }
    }

    private async ValueTask SkipRestAsync(CancellationToken ct)
    {
        var skip = _remaining + _padding;
        _remaining = 0;
        _padding = 0;
        if (_current is not null) _current.Detached = true;
        _current = null;
        if (skip == 0) return;
        var buf = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            while (skip > 0)
            {
                var n = await _stream.ReadAsync(buf.AsMemory(0, (int)Math.Min(buf.Length, skip)), ct).ConfigureAwait(false);
                if (n == 0) throw new LayerFormatException("unexpected end of tar stream inside an entry");
                skip -= n;
            }
        }
        finally { ArrayPool<byte>.Shared.Return(buf); }
    }

    private sealed class EntryStream(TarStreamReader owner) : ForwardReadStream
    {
        public bool Detached;

        public override int Read(Span<byte> buffer)
        {
            if (Detached || owner._remaining == 0 || buffer.Length == 0) return 0;
            var n = owner._stream.Read(buffer[..(int)Math.Min(buffer.Length, owner._remaining)]);
            if (n == 0) throw new LayerFormatException("unexpected end of tar stream inside a file");
            owner._remaining -= n;
            return n;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
        {
            if (Detached || owner._remaining == 0 || buffer.Length == 0) return 0;
            var n = await owner._stream.ReadAsync(buffer[..(int)Math.Min(buffer.Length, owner._remaining)], ct).ConfigureAwait(false);
            if (n == 0) throw new LayerFormatException("unexpected end of tar stream inside a file");
            owner._remaining -= n;
            return n;
        }
    }
}
