using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Img.Archive.Layers;
using Img.Oci;

namespace Img.Build;

/// <summary>
/// Content digests of context files keyed by what lstat says (path, size, mtime, ctime, inode), persisted in the
/// state dir so an unchanged context is not read again on the next build. A file whose stat changed is re-hashed.
/// </summary>
public sealed class StatCache
{
    private static readonly object SaveGate = new();
    private readonly string _file;
    private readonly ConcurrentDictionary<string, (FileStat Stat, Digest Digest)> _entries = new(StringComparer.Ordinal);
    private int _changed;

    private StatCache(string file) => _file = file;

    /// <summary>Loads the cache kept at <paramref name="file"/> (a missing or damaged file is an empty cache).</summary>
    public static StatCache Load(string file)
    {
        var cache = new StatCache(file);
        if (!File.Exists(file)) return cache;
        foreach (var line in File.ReadLines(file))
        {
            var f = line.Split('\t');
            if (f.Length != 6 || !Digest.TryParse(f[5], out var d)) continue;
            if (!ulong.TryParse(f[1], CultureInfo.InvariantCulture, out var size) || !long.TryParse(f[2], CultureInfo.InvariantCulture, out var mtime) ||
                !long.TryParse(f[3], CultureInfo.InvariantCulture, out var ctime) || !ulong.TryParse(f[4], CultureInfo.InvariantCulture, out var ino)) continue;
            cache._entries[Uri.UnescapeDataString(f[0])] = (new FileStat(ino, size, 0, 0, 0, mtime, ctime), d);
        }
        return cache;
    }

    /// <summary>How many files were read and hashed (not served from the cache) since loading.</summary>
    public int Hashed => _changed;

    /// <summary>The sha256 of the regular file at <paramref name="path"/> whose lstat is <paramref name="stat"/>.</summary>
    public Task<Digest> DigestAsync(string path, FileStat stat, CancellationToken ct) => Task.FromResult(DigestOf(path, stat, ct));

    private Digest DigestOf(string path, FileStat stat, CancellationToken ct)
    {
        if (_entries.TryGetValue(path, out var e) && Same(e.Stat, stat)) return e.Digest;
        ct.ThrowIfCancellationRequested();
        Digest digest;
        // Synchronous, unlocked reads: a context has thousands of small files, each in the page cache.
        using (var stream = FileReadStream.Open(path))
            digest = Digest.FromSha256(SHA256.HashData(stream));
        _entries[path] = (stat, digest);
        Interlocked.Increment(ref _changed);
        return digest;
    }

    private static bool Same(FileStat a, FileStat b) => a.Size == b.Size && a.MtimeNs == b.MtimeNs && a.CtimeNs == b.CtimeNs && a.Inode == b.Inode;

    /// <summary>Writes the cache back (atomically) when anything was hashed.</summary>
    public void Save()
    {
        if (_changed == 0) return;
        // The platforms of one multi-platform build save at once; the temp name is per process.
        lock (SaveGate) SaveLocked();
    }

    private void SaveLocked()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_file)!);
        var tmp = _file + ".tmp-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        using (var w = new StreamWriter(tmp, false, new UTF8Encoding(false)))
        {
            foreach (var (path, (s, d)) in _entries)
                w.Write(string.Create(CultureInfo.InvariantCulture, $"{Uri.EscapeDataString(path)}\t{s.Size}\t{s.MtimeNs}\t{s.CtimeNs}\t{s.Inode}\t{d}\n"));
        }
        File.Move(tmp, _file, overwrite: true);
    }
}
