using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Img.Content;

namespace Img.Runtime.Snapshots;

/// <summary>
/// The persisted snapshot table of one backend root: <c>snapshots/&lt;id&gt;/meta.json</c> per snapshot and
/// <c>keys/&lt;sha256(key)&gt;</c> naming the id a key points at. Every file is written to a temporary name
/// and renamed, so a killed process leaves either the old or the new record, never half of one.
/// </summary>
internal sealed class SnapshotTable
{
    private readonly string _root;

    public SnapshotTable(string root)
    {
        _root = root;
        Directory.CreateDirectory(SnapshotsDir);
        Directory.CreateDirectory(KeysDir);
    }

    public string SnapshotsDir => Path.Combine(_root, "snapshots");
    private string KeysDir => Path.Combine(_root, "keys");

    /// <summary>Serialises table changes between threads and processes.</summary>
    public StateLock Lock() => StateLock.Exclusive(Path.Combine(_root, "lock"));

    public string DirOf(string id) => Path.Combine(SnapshotsDir, id);

    public SnapshotInfo? Find(string key)
    {
        var keyFile = KeyFile(key);
        if (!File.Exists(keyFile)) return null;
        var meta = Path.Combine(DirOf(File.ReadAllText(keyFile).Trim()), "meta.json");
        if (!File.Exists(meta)) return null;
        var info = JsonSerializer.Deserialize(File.ReadAllBytes(meta), SnapshotJsonContext.Default.SnapshotInfo);
        return info is not null && info.Key == key ? info : null;
    }

    public SnapshotInfo Get(string key) => Find(key) ?? throw new SnapshotNotFoundException(key);

    public IReadOnlyList<SnapshotInfo> List()
    {
        var all = new List<SnapshotInfo>();
        foreach (var dir in Directory.EnumerateDirectories(SnapshotsDir))
        {
            var meta = Path.Combine(dir, "meta.json");
            if (!File.Exists(meta)) continue;
            var info = JsonSerializer.Deserialize(File.ReadAllBytes(meta), SnapshotJsonContext.Default.SnapshotInfo);
            if (info is not null && Find(info.Key)?.Id == info.Id) all.Add(info);
        }
        return all;
    }

    /// <summary>A fresh snapshot directory (not yet in the table).</summary>
    public string NewId()
    {
        while (true)
        {
            var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
            var dir = DirOf(id);
            if (Directory.Exists(dir)) continue;
            Directory.CreateDirectory(dir);
            return id;
        }
    }

    public void Put(SnapshotInfo info)
    {
        WriteAtomic(Path.Combine(DirOf(info.Id), "meta.json"), JsonSerializer.SerializeToUtf8Bytes(info, SnapshotJsonContext.Default.SnapshotInfo));
        WriteAtomic(KeyFile(info.Key), Encoding.UTF8.GetBytes(info.Id));
    }

    public void DeleteKey(string key) => File.Delete(KeyFile(key));

    /// <summary>Parents first-to-last: the nearest parent first, the base last.</summary>
    public IReadOnlyList<SnapshotInfo> Chain(string? parent)
    {
        var chain = new List<SnapshotInfo>();
        for (var p = parent; p is not null;)
        {
            var info = Get(p);
            if (info.Kind != SnapshotKind.Committed) throw new InvalidOperationException($"snapshot {p} is not committed and cannot be a parent");
            chain.Add(info);
            p = info.Parent;
        }
        return chain;
    }

    private string KeyFile(string key) => Path.Combine(KeysDir, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key))));

    private static void WriteAtomic(string path, byte[] bytes)
    {
        var tmp = path + ".tmp-" + Environment.ProcessId;
        using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write))
        {
            fs.Write(bytes);
            fs.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
        FileSync.Directory(Path.GetDirectoryName(path)!);
    }
}

/// <summary>No snapshot has that key.</summary>
public sealed class SnapshotNotFoundException(string key) : Exception($"snapshot {key} does not exist")
{
    /// <summary>The missing key.</summary>
    public string Key { get; } = key;
}
