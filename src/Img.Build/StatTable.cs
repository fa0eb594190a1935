using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Img.Oci;
using Microsoft.Win32.SafeHandles;

namespace Img.Build;

/// <summary>
/// Where a context file is, as two stable 64-bit hashes: of its host directory and of its name. Records sort by
/// directory first, so one directory's files sit together on disk and a walk through it reads the same few blocks.
/// </summary>
internal readonly record struct StatKey(ulong Dir, ulong Name) : IComparable<StatKey>
{
    /// <summary>The key of a host path (hashes of its UTF-16 text: the same in every process on this machine).</summary>
    public static StatKey Of(string path)
    {
        var slash = path.LastIndexOf('/');
        var dir = slash < 0 ? [] : path.AsSpan(0, slash);
        return new(XxHash3.HashToUInt64(MemoryMarshal.AsBytes(dir)), XxHash3.HashToUInt64(MemoryMarshal.AsBytes(path.AsSpan(slash + 1))));
    }

    public int CompareTo(StatKey other) => Dir != other.Dir ? Dir.CompareTo(other.Dir) : Name.CompareTo(other.Name);
}

/// <summary>A file's sha256, inline (no array per record).</summary>
[InlineArray(32)]
internal struct Sha256Value
{
    private byte _first;
}

/// <summary>One stat-cache record: where the file is, what lstat said of it, and the sha256 of its content.</summary>
internal readonly struct StatRecord
{
    public const int Size = 80;
    private readonly Sha256Value _sha256;

    public StatRecord(StatKey key, FileStat stat, ReadOnlySpan<byte> sha256)
        : this(key, stat.Size, stat.MtimeNs, stat.CtimeNs, stat.Inode, sha256) { }

    private StatRecord(StatKey key, ulong fileSize, long mtimeNs, long ctimeNs, ulong inode, ReadOnlySpan<byte> sha256)
    {
        Key = key;
        FileSize = fileSize;
        MtimeNs = mtimeNs;
        CtimeNs = ctimeNs;
        Inode = inode;
        sha256.CopyTo(_sha256);
    }

    public StatKey Key { get; }
    public ulong FileSize { get; }
    public long MtimeNs { get; }
    public long CtimeNs { get; }
    public ulong Inode { get; }

    /// <summary>The content digest.</summary>
    public Digest Digest => Digest.FromSha256(_sha256);

    /// <summary>Whether the file still is what was hashed: same size, mtime, ctime and inode.</summary>
    public bool Describes(FileStat stat) => FileSize == stat.Size && MtimeNs == stat.MtimeNs && CtimeNs == stat.CtimeNs && Inode == stat.Inode;

    public void Write(Span<byte> to)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(to, Key.Dir);
        BinaryPrimitives.WriteUInt64LittleEndian(to[8..], Key.Name);
        BinaryPrimitives.WriteUInt64LittleEndian(to[16..], FileSize);
        BinaryPrimitives.WriteInt64LittleEndian(to[24..], MtimeNs);
        BinaryPrimitives.WriteInt64LittleEndian(to[32..], CtimeNs);
        BinaryPrimitives.WriteUInt64LittleEndian(to[40..], Inode);
        ((ReadOnlySpan<byte>)_sha256).CopyTo(to[48..]);
    }

    public static StatRecord Read(ReadOnlySpan<byte> from) => new(
        new StatKey(BinaryPrimitives.ReadUInt64LittleEndian(from), BinaryPrimitives.ReadUInt64LittleEndian(from[8..])),
        BinaryPrimitives.ReadUInt64LittleEndian(from[16..]), BinaryPrimitives.ReadInt64LittleEndian(from[24..]),
        BinaryPrimitives.ReadInt64LittleEndian(from[32..]), BinaryPrimitives.ReadUInt64LittleEndian(from[40..]), from.Slice(48, 32));
}

/// <summary>
/// A file of stat records sorted by key, read in place: a build's memory does not grow with the number of context
/// files. Layout: a 32-byte header (magic, record count, xxhash64 of the records) and fixed 80-byte records. In
/// memory are only the first key of every block of 64 records and the last few blocks read. A file whose length or
/// checksum does not match is an empty table (a rebuild then hashes the files again, never trusts damaged data).
/// </summary>
internal sealed class StatTable : IDisposable
{
    public const int HeaderSize = 32;
    private const int BlockRecords = 64;
    private const int CachedBlocks = 16;
    public static ReadOnlySpan<byte> Magic => "imgstat1"u8;

    private readonly SafeFileHandle _file;
    private readonly Lock _gate = new();
    private readonly long _declared;
    private long _count;
    private StatKey[]? _firstKeys;
    private readonly long[] _cachedBlock = [.. Enumerable.Repeat(-1L, CachedBlocks)];
    private readonly StatRecord[][] _cached = new StatRecord[CachedBlocks][];
    private readonly int[] _cachedCount = new int[CachedBlocks];
    private int _nextSlot;

    private StatTable(SafeFileHandle file, long count) => (_file, _declared) = (file, count);

    /// <summary>The table at <paramref name="path"/>, or null when there is none or it is not one.</summary>
    public static StatTable? Open(string path)
    {
        SafeFileHandle file;
        try { file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
        return Open(file);
    }

    /// <summary>The table in <paramref name="file"/> (owned from now on), or null when it is not one.</summary>
    public static StatTable? Open(SafeFileHandle file)
    {
        Span<byte> header = stackalloc byte[HeaderSize];
        var length = RandomAccess.GetLength(file);
        var count = length >= HeaderSize && RandomAccess.Read(file, header, 0) == HeaderSize && header[..8].SequenceEqual(Magic)
            ? BinaryPrimitives.ReadInt64LittleEndian(header[8..]) : -1;
        if (count < 0 || length != HeaderSize + count * StatRecord.Size)
        {
            file.Dispose();
            return null;
        }
        return new StatTable(file, count);
    }

    /// <summary>The record for <paramref name="key"/>, if the table has one.</summary>
    public bool TryGet(StatKey key, out StatRecord record)
    {
        record = default;
        lock (_gate)
        {
            var firstKeys = Index();
            // The last block whose first key is not above the key holds it, if any does.
            var block = Array.BinarySearch(firstKeys, key);
            if (block < 0) block = ~block - 1;
            if (block < 0) return false;
            var slot = CachedSlot(block);
            var records = _cached[slot].AsSpan(0, _cachedCount[slot]);
            int lo = 0, hi = records.Length - 1;
            while (lo <= hi)
            {
                var mid = (lo + hi) >>> 1;
                var c = records[mid].Key.CompareTo(key);
                if (c == 0)
                {
                    record = records[mid];
                    return true;
                }
                if (c < 0) lo = mid + 1; else hi = mid - 1;
            }
            return false;
        }
    }

    /// <summary>Every record in key order (for a merge into a new table).</summary>
    public IEnumerable<StatRecord> ReadAll()
    {
        long count;
        lock (_gate)
        {
            Index();
            count = _count;
        }
        var buffer = new byte[BlockRecords * StatRecord.Size];
        for (long at = 0; at < count; at += BlockRecords)
        {
            var n = (int)Math.Min(BlockRecords, count - at);
            RandomAccess.Read(_file, buffer.AsSpan(0, n * StatRecord.Size), HeaderSize + at * StatRecord.Size);
            for (var i = 0; i < n; i++) yield return StatRecord.Read(buffer.AsSpan(i * StatRecord.Size, StatRecord.Size));
        }
    }

    /// <summary>
    /// The first key of every block, read once on first use; the whole file is checked against its checksum on the
    /// way, so a torn or damaged table is treated as empty.
    /// </summary>
    private StatKey[] Index()
    {
        if (_firstKeys is not null) return _firstKeys;
        Span<byte> header = stackalloc byte[HeaderSize];
        RandomAccess.Read(_file, header, 0);
        var expected = BinaryPrimitives.ReadUInt64LittleEndian(header[16..]);
        var keys = new StatKey[(_declared + BlockRecords - 1) / BlockRecords];
        var hash = new XxHash64();
        var buffer = new byte[BlockRecords * StatRecord.Size * 16];
        long read = 0;
        while (read < _declared)
        {
            var n = (int)Math.Min(buffer.Length / StatRecord.Size, _declared - read);
            var bytes = buffer.AsSpan(0, n * StatRecord.Size);
            if (RandomAccess.Read(_file, bytes, HeaderSize + read * StatRecord.Size) != bytes.Length) break;
            hash.Append(bytes);
            for (var i = 0; i < n; i++)
                if ((read + i) % BlockRecords == 0)
                    keys[(read + i) / BlockRecords] = StatRecord.Read(bytes.Slice(i * StatRecord.Size, StatRecord.Size)).Key;
            read += n;
        }
        var intact = read == _declared && hash.GetCurrentHashAsUInt64() == expected;
        _count = intact ? _declared : 0;
        _firstKeys = intact ? keys : [];
        return _firstKeys;
    }

    private int CachedSlot(int block)
    {
        var slot = Array.IndexOf(_cachedBlock, (long)block);
        if (slot >= 0) return slot;
        slot = _nextSlot;
        _nextSlot = (_nextSlot + 1) % CachedBlocks;
        var records = _cached[slot] ??= new StatRecord[BlockRecords];
        var start = (long)block * BlockRecords;
        var n = (int)Math.Min(BlockRecords, _count - start);
        Span<byte> bytes = stackalloc byte[BlockRecords * StatRecord.Size];
        bytes = bytes[..(n * StatRecord.Size)];
        if (RandomAccess.Read(_file, bytes, HeaderSize + start * StatRecord.Size) != bytes.Length) n = 0;
        for (var i = 0; i < n; i++) records[i] = StatRecord.Read(bytes.Slice(i * StatRecord.Size, StatRecord.Size));
        _cachedBlock[slot] = block;
        _cachedCount[slot] = n;
        return slot;
    }

    public void Dispose() => _file.Dispose();

    /// <summary>
    /// Writes <paramref name="sources"/> merged into one table in <paramref name="file"/>: each source sorted and
    /// without duplicate keys, the earlier source winning where two hold the same key (newest first).
    /// </summary>
    public static void Merge(SafeFileHandle file, IReadOnlyList<IEnumerable<StatRecord>> sources)
    {
        var writer = new StatTableWriter(file);
        var heads = sources.Select(s => s.GetEnumerator()).ToArray();
        var live = heads.Select(h => h.MoveNext()).ToArray();
        try
        {
            while (true)
            {
                var best = -1;
                for (var i = 0; i < heads.Length; i++)
                    if (live[i] && (best < 0 || heads[i].Current.Key.CompareTo(heads[best].Current.Key) < 0)) best = i;
                if (best < 0) break;
                var key = heads[best].Current.Key;
                writer.Add(heads[best].Current);
                for (var i = 0; i < heads.Length; i++)
                    while (live[i] && heads[i].Current.Key.CompareTo(key) == 0) live[i] = heads[i].MoveNext();
            }
        }
        finally
        {
            foreach (var h in heads) h.Dispose();
        }
        writer.Complete();
    }
}

/// <summary>Writes a <see cref="StatTable"/> front to back: records in key order, the header last.</summary>
internal sealed class StatTableWriter(SafeFileHandle file)
{
    private readonly byte[] _buffer = new byte[64 * 1024 / StatRecord.Size * StatRecord.Size];
    private readonly XxHash64 _hash = new();
    private int _fill;
    private long _offset = StatTable.HeaderSize;
    private long _count;

    public void Add(in StatRecord record)
    {
        record.Write(_buffer.AsSpan(_fill, StatRecord.Size));
        _fill += StatRecord.Size;
        _count++;
        if (_fill == _buffer.Length) Flush();
    }

    /// <summary>Writes what is buffered and then the header, which makes the table valid.</summary>
    public void Complete()
    {
        Flush();
        Span<byte> header = stackalloc byte[StatTable.HeaderSize];
        header.Clear();
        StatTable.Magic.CopyTo(header);
        BinaryPrimitives.WriteInt64LittleEndian(header[8..], _count);
        BinaryPrimitives.WriteUInt64LittleEndian(header[16..], _hash.GetCurrentHashAsUInt64());
        RandomAccess.Write(file, header, 0);
    }

    private void Flush()
    {
        if (_fill == 0) return;
        var bytes = _buffer.AsSpan(0, _fill);
        _hash.Append(bytes);
        RandomAccess.Write(file, bytes, _offset);
        _offset += _fill;
        _fill = 0;
    }
}
