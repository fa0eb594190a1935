using System.Globalization;
using System.Security.Cryptography;
using Img.Archive.Layers;
using Img.Oci;
using Microsoft.Win32.SafeHandles;

namespace Img.Build;

/// <summary>
/// Content digests of context files keyed by what lstat says (path, size, mtime, ctime, inode), persisted in the
/// state dir so an unchanged context is not read again on the next build. A file whose stat changed is re-hashed.
/// The saved cache is a <see cref="StatTable"/> read in place, and files hashed by this build wait in memory only
/// up to <see cref="DefaultSpillAfter"/> records before they go to a sorted run on disk, so memory stays the same
/// for a context of a hundred files or of millions. Saving merges the saved table and the runs into a new file
/// that replaces the old one atomically.
/// </summary>
public sealed class StatCache
{
    /// <summary>Records hashed by this build kept in memory (about 100 bytes each) before they go to disk.</summary>
    public const int DefaultSpillAfter = 8192;

    private static readonly object SaveGate = new();
    private readonly string _file;
    private readonly int _spillAfter;
    private readonly Lock _gate = new();
    // Sized for the bound on first use and reused, as is the array the records are sorted in: grown step by step and
    // copied out anew on every spill, they left large arrays to the GC's rarest collection, so a context past the bound
    // held more memory than one below it.
    private readonly Dictionary<StatKey, StatRecord> _pending = [];
    private StatRecord[]? _sorted;
    private readonly List<StatTable> _spilled = [];
    private StatTable? _saved;
    private bool _savedOpened;
    private bool _dirty;
    private int _changed;

    private StatCache(string file, int spillAfter) => (_file, _spillAfter) = (file, spillAfter);

    /// <summary>The cache kept at <paramref name="file"/> (a missing or damaged file is an empty cache); nothing is read yet.</summary>
    public static StatCache Load(string file) => Load(file, DefaultSpillAfter);

    /// <summary>As <see cref="Load(string)"/>, with records spilled to disk every <paramref name="spillAfter"/> new ones.</summary>
    internal static StatCache Load(string file, int spillAfter)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(spillAfter, 1);
        return new StatCache(file, spillAfter);
    }

    /// <summary>How many files were read and hashed (not served from the cache) since loading.</summary>
    public int Hashed => _changed;

    /// <summary>The sha256 of the regular file at <paramref name="path"/> whose lstat is <paramref name="stat"/>.</summary>
    public Task<Digest> DigestAsync(string path, FileStat stat, CancellationToken ct) => Task.FromResult(DigestOf(path, stat, ct));

    private Digest DigestOf(string path, FileStat stat, CancellationToken ct)
    {
        var key = StatKey.Of(path);
        if (TryGet(key, out var known) && known.Describes(stat)) return known.Digest;
        ct.ThrowIfCancellationRequested();
        byte[] sha256;
        // Synchronous, unlocked reads: a context has thousands of small files, each in the page cache.
        using (var stream = FileReadStream.Open(path))
            sha256 = SHA256.HashData(stream);
        Add(new StatRecord(key, stat, sha256));
        Interlocked.Increment(ref _changed);
        return Digest.FromSha256(sha256);
    }

    // Files hashed by this build are found while they are in memory; once spilled they are not looked up again
    // (a file digested twice in one build past that point is read twice, which costs time, never a wrong digest).
    private bool TryGet(StatKey key, out StatRecord record)
    {
        lock (_gate)
        {
            if (_pending.TryGetValue(key, out record)) return true;
            record = default;
            return Saved() is { } saved && saved.TryGet(key, out record);
        }
    }

    private void Add(StatRecord record)
    {
        lock (_gate)
        {
            if (_pending.Count == 0) _pending.EnsureCapacity(_spillAfter);
            _pending[record.Key] = record;
            _dirty = true;
            if (_pending.Count >= _spillAfter) Spill();
        }
    }

    private StatTable? Saved()
    {
        if (!_savedOpened)
        {
            _saved = StatTable.Open(_file);
            _savedOpened = true;
        }
        return _saved;
    }

    /// <summary>Moves the records in memory to a sorted run in an unlinked file beside the cache (a crash leaves nothing).</summary>
    private void Spill()
    {
        var file = CreateUnlinked(".run-");
        try
        {
            StatTable.Merge(file, [PendingSorted()]);
            _spilled.Add(StatTable.Open(file) ?? throw new IOException($"the stat cache run beside {_file} did not read back"));
        }
        catch
        {
            file.Dispose();
            throw;
        }
        _pending.Clear();
    }

    private ArraySegment<StatRecord> PendingSorted()
    {
        var records = _sorted ??= new StatRecord[_spillAfter];
        _pending.Values.CopyTo(records, 0);
        var sorted = new ArraySegment<StatRecord>(records, 0, _pending.Count);
        sorted.AsSpan().Sort(static (a, b) => a.Key.CompareTo(b.Key));
        return sorted;
    }

    private SafeFileHandle CreateUnlinked(string infix)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_file)!);
        var path = _file + infix + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N");
        var file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        File.Delete(path);
        return file;
    }

    /// <summary>Writes the cache back (atomically) when anything was hashed.</summary>
    public void Save()
    {
        // The platforms of one multi-platform build save at once; the temp name is per process.
        lock (SaveGate)
        lock (_gate)
        {
            if (!_dirty) return;
            SaveLocked();
        }
    }

    private void SaveLocked()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_file)!);
        var tmp = _file + ".tmp-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        // Newest first: this build's records in memory, its runs from the last to the first, then the saved table.
        var sources = new List<IEnumerable<StatRecord>> { PendingSorted() };
        for (var i = _spilled.Count - 1; i >= 0; i--) sources.Add(_spilled[i].ReadAll());
        if (Saved() is { } saved) sources.Add(saved.ReadAll());
        using (var file = File.OpenHandle(tmp, FileMode.Create, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete))
            StatTable.Merge(file, sources);
        File.Move(tmp, _file, overwrite: true);
        // From here on this cache is the one just saved, read afresh when next asked.
        foreach (var run in _spilled) run.Dispose();
        _spilled.Clear();
        _pending.Clear();
        _saved?.Dispose();
        _saved = null;
        _savedOpened = false;
        _dirty = false;
    }
}
