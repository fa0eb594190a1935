using Img.Oci;
using Microsoft.Data.Sqlite;

namespace Img.Content;

/// <summary>
/// The metadata database (<c>metadata.db</c>, SQLite in WAL mode): image records, build-cache
/// records and leases. Safe for several img processes at once: every change is one transaction, and
/// SQLite's busy timeout makes a process wait for another's. Safe for several threads of one process
/// (parallel stages, platforms): a connection runs one statement or transaction at a time, so every
/// operation holds <see cref="_gate"/> for its whole use of the connection.
/// </summary>
public sealed class MetadataStore : IDisposable
{
    private const int SchemaVersion = 1;
    private readonly SqliteConnection _conn;
    private readonly Lock _gate = new();

    public MetadataStore(string path)
    {
        _conn = Sqlite.Open(path);
        lock (_gate) Migrate();
    }

    private void Migrate()
    {
        using var tx = _conn.BeginTransaction();
        Sqlite.Exec(_conn, """
            CREATE TABLE IF NOT EXISTS images (
                name TEXT PRIMARY KEY,
                media_type TEXT NOT NULL,
                digest TEXT NOT NULL,
                size INTEGER NOT NULL,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL
            );
            CREATE TABLE IF NOT EXISTS cache_records (
                key TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                description TEXT NOT NULL,
                parent TEXT,
                snapshot TEXT,
                result TEXT NOT NULL,
                size INTEGER NOT NULL,
                created_at INTEGER NOT NULL,
                last_used INTEGER NOT NULL,
                usage_count INTEGER NOT NULL DEFAULT 1
            );
            CREATE TABLE IF NOT EXISTS cache_blobs (
                key TEXT NOT NULL REFERENCES cache_records(key) ON DELETE CASCADE,
                digest TEXT NOT NULL,
                PRIMARY KEY (key, digest)
            );
            CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
            """);
        Sqlite.Exec(_conn, "INSERT OR IGNORE INTO meta(k, v) VALUES ('schema', $v)", ("$v", SchemaVersion.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        tx.Commit();
    }

    public IReadOnlyList<ImageRecord> ListImages()
    {
        lock (_gate)
        {
            using var cmd = _conn.CreateCommand();
            cmd.CommandText = "SELECT name, media_type, digest, size, created_at, updated_at FROM images ORDER BY name";
            return ReadImages(cmd);
        }
    }

    public ImageRecord? GetImage(string name)
    {
        lock (_gate)
        {
            using var cmd = _conn.CreateCommand();
            cmd.CommandText = "SELECT name, media_type, digest, size, created_at, updated_at FROM images WHERE name = $n";
            cmd.Parameters.AddWithValue("$n", name);
            return ReadImages(cmd).FirstOrDefault();
        }
    }

    /// <summary>Creates or re-points an image record; a re-pointed record keeps its creation time.</summary>
    public ImageRecord PutImage(string name, Descriptor target, DateTimeOffset? now = null)
    {
        lock (_gate)
        {
            var t = (now ?? DateTimeOffset.UtcNow).ToUnixTimeMilliseconds();
            Sqlite.Exec(_conn, """
                INSERT INTO images(name, media_type, digest, size, created_at, updated_at)
                VALUES ($n, $m, $d, $s, $t, $t)
                ON CONFLICT(name) DO UPDATE SET media_type = $m, digest = $d, size = $s, updated_at = $t
                """,
                ("$n", name), ("$m", target.MediaType), ("$d", target.Digest.ToString()), ("$s", target.Size), ("$t", t));
            return GetImage(name)!;
        }
    }

    public bool DeleteImage(string name)
    {
        lock (_gate)
        {
            using var cmd = _conn.CreateCommand();
            cmd.CommandText = "DELETE FROM images WHERE name = $n";
            cmd.Parameters.AddWithValue("$n", name);
            return cmd.ExecuteNonQuery() > 0;
        }
    }

    private static List<ImageRecord> ReadImages(SqliteCommand cmd)
    {
        var list = new List<ImageRecord>();
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            var target = new Descriptor(r.GetString(1), Digest.Parse(r.GetString(2)), r.GetInt64(3));
            list.Add(new ImageRecord(r.GetString(0), target,
                DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(4)),
                DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(5))));
        }
        return list;
    }

    // ---- build cache records -------------------------------------------------------------

    public void PutCacheRecord(CacheRecord record)
    {
        lock (_gate)
        {
            using var tx = _conn.BeginTransaction();
            Sqlite.Exec(_conn, """
                INSERT INTO cache_records(key, kind, description, parent, snapshot, result, size, created_at, last_used, usage_count)
                VALUES ($k, $kind, $desc, $p, $snap, $res, $size, $t, $t, 1)
                ON CONFLICT(key) DO UPDATE SET kind = $kind, description = $desc, parent = $p, snapshot = $snap,
                    result = $res, size = $size, last_used = $t, usage_count = usage_count + 1
                """,
                ("$k", record.Key), ("$kind", record.Kind), ("$desc", record.Description), ("$p", record.Parent),
                ("$snap", record.Snapshot), ("$res", record.Result), ("$size", record.Size),
                ("$t", record.CreatedAt.ToUnixTimeMilliseconds()));
            Sqlite.Exec(_conn, "DELETE FROM cache_blobs WHERE key = $k", ("$k", record.Key));
            foreach (var d in record.Blobs)
                Sqlite.Exec(_conn, "INSERT OR IGNORE INTO cache_blobs(key, digest) VALUES ($k, $d)", ("$k", record.Key), ("$d", d.ToString()));
            tx.Commit();
        }
    }

    public CacheRecord? GetCacheRecord(string key)
    {
        lock (_gate)
        {
            using var cmd = _conn.CreateCommand();
            cmd.CommandText = "SELECT key, kind, description, parent, snapshot, result, size, created_at, last_used, usage_count FROM cache_records WHERE key = $k";
            cmd.Parameters.AddWithValue("$k", key);
            return ReadCacheRecords(cmd).FirstOrDefault();
        }
    }

    public void TouchCacheRecord(string key)
    {
        lock (_gate)
        {
            Sqlite.Exec(_conn, "UPDATE cache_records SET last_used = $t, usage_count = usage_count + 1 WHERE key = $k",
                ("$k", key), ("$t", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
        }
    }

    public IReadOnlyList<CacheRecord> ListCacheRecords()
    {
        lock (_gate)
        {
            using var cmd = _conn.CreateCommand();
            cmd.CommandText = "SELECT key, kind, description, parent, snapshot, result, size, created_at, last_used, usage_count FROM cache_records ORDER BY created_at, key";
            return ReadCacheRecords(cmd);
        }
    }

    public bool DeleteCacheRecord(string key)
    {
        lock (_gate)
        {
            using var cmd = _conn.CreateCommand();
            cmd.CommandText = "DELETE FROM cache_records WHERE key = $k";
            cmd.Parameters.AddWithValue("$k", key);
            return cmd.ExecuteNonQuery() > 0;
        }
    }

    private List<CacheRecord> ReadCacheRecords(SqliteCommand cmd)
    {
        var list = new List<CacheRecord>();
        using (var r = cmd.ExecuteReader())
        {
            while (r.Read())
            {
                list.Add(new CacheRecord
                {
                    Key = r.GetString(0),
                    Kind = r.GetString(1),
                    Description = r.GetString(2),
                    Parent = r.IsDBNull(3) ? null : r.GetString(3),
                    Snapshot = r.IsDBNull(4) ? null : r.GetString(4),
                    Result = r.GetString(5),
                    Size = r.GetInt64(6),
                    CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(7)),
                    LastUsed = DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(8)),
                    UsageCount = r.GetInt32(9),
                });
            }
        }
        foreach (var rec in list)
        {
            using var bc = _conn.CreateCommand();
            bc.CommandText = "SELECT digest FROM cache_blobs WHERE key = $k ORDER BY digest";
            bc.Parameters.AddWithValue("$k", rec.Key);
            using var r = bc.ExecuteReader();
            var blobs = new List<Digest>();
            while (r.Read()) blobs.Add(Digest.Parse(r.GetString(0)));
            rec.Blobs = blobs;
        }
        return list;
    }

    /// <summary>Every blob digest a cache record holds on to (roots for garbage collection).</summary>
    public IReadOnlySet<Digest> CacheBlobRoots()
    {
        lock (_gate)
        {
            using var cmd = _conn.CreateCommand();
            cmd.CommandText = "SELECT DISTINCT digest FROM cache_blobs";
            var set = new HashSet<Digest>();
            using var r = cmd.ExecuteReader();
            while (r.Read()) set.Add(Digest.Parse(r.GetString(0)));
            return set;
        }
    }

    /// <summary>Damage SQLite finds in the database's pages (quick_check), or null when it is sound.</summary>
    public string? FindDamage()
    {
        lock (_gate) return MetadataRecovery.QuickCheck(_conn);
    }

    public void Dispose()
    {
        lock (_gate) _conn.Dispose();
    }
}

/// <summary>A build-cache entry: the result of one build step, found again by its cache key.</summary>
public sealed class CacheRecord
{
    public required string Key { get; init; }
    /// <summary>What made it: <c>regular</c>, <c>source.local</c>, <c>exec.cachemount</c> …</summary>
    public required string Kind { get; init; }
    public required string Description { get; init; }
    public string? Parent { get; init; }
    /// <summary>The snapshot key holding the result's filesystem, if any.</summary>
    public string? Snapshot { get; init; }
    /// <summary>The step's result as the build engine serialised it (layer descriptors, config).</summary>
    public required string Result { get; init; }
    public long Size { get; init; }
    public DateTimeOffset CreatedAt { get; init; } = DateTimeOffset.UtcNow;
    public DateTimeOffset LastUsed { get; init; } = DateTimeOffset.UtcNow;
    public int UsageCount { get; init; } = 1;
    public IReadOnlyList<Digest> Blobs { get; set; } = [];
}
