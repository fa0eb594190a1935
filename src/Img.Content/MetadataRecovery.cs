using System.Globalization;
using Img.Oci;
using Microsoft.Data.Sqlite;

namespace Img.Content;

/// <summary>What checking (and, if damaged, rebuilding) the metadata database found.</summary>
/// <param name="Damage">SQLite's own words for the damage, or null when the database is sound.</param>
/// <param name="MovedTo">Where the damaged file went.</param>
/// <param name="ImagesRecovered">Image records read back from the damaged file into the new one.</param>
/// <param name="CacheRecordsDropped">Build-cache records not carried over (the steps run again).</param>
public sealed record MetadataCheck(string? Damage, string? MovedTo, int ImagesRecovered, int CacheRecordsDropped);

/// <summary>
/// Finds damage in <c>metadata.db</c> (a file that is not a database, damaged pages) and rebuilds it: the damaged
/// file is moved aside, a new database is created, and every image record that can still be read is copied into it.
/// Build-cache records are not carried over: they only save work, and a record pointing at a lost snapshot would
/// fail a build.
/// </summary>
public static class MetadataRecovery
{
    /// <summary>The error codes that mean the file itself is damaged (SQLITE_CORRUPT, SQLITE_NOTADB).</summary>
    public static bool IsDamage(SqliteException e) => e.SqliteErrorCode is 11 or 26;

    /// <summary>The one line a command prints when it meets a damaged database: which file, and what recovers it.</summary>
    public static string DamagedMessage(string path, string why) =>
        $"metadata database {path} is damaged ({why}): run `img fsck` to move it aside and rebuild the image records it still holds";

    /// <summary>SQLite's description of the damage, or null when the file is sound (or does not exist yet).</summary>
    public static string? FindDamage(string path)
    {
        if (!File.Exists(path)) return null;
        try
        {
            // An ordinary connection: it honours the locks and the write-ahead log of processes using the database.
            using var conn = Sqlite.Open(path);
            return QuickCheck(conn);
        }
        catch (SqliteException e) when (IsDamage(e))
        {
            return e.Message;
        }
    }

    /// <summary>SQLite's quick_check on an open connection: null when every page is sound, else its first findings.</summary>
    public static string? QuickCheck(SqliteConnection conn)
    {
        using var cmd = conn.CreateCommand();
        cmd.CommandText = "PRAGMA quick_check";
        var problems = new List<string>();
        using var r = cmd.ExecuteReader();
        while (r.Read()) problems.Add(r.GetString(0));
        return problems is ["ok"] ? null : string.Join("; ", problems.Take(3));
    }

    /// <summary>Checks the database and rebuilds it when it is damaged.</summary>
    public static MetadataCheck CheckAndRepair(string path)
    {
        var damage = FindDamage(path);
        if (damage is null) return new MetadataCheck(null, null, 0, 0);
        var movedTo = $"{path}.damaged-{DateTime.UtcNow:yyyyMMddTHHmmssZ}";
        File.Move(path, movedTo);
        foreach (var suffix in new[] { "-wal", "-shm" })
            if (File.Exists(path + suffix)) File.Move(path + suffix, movedTo + suffix);
        var images = Salvage(movedTo, out int cacheRecords);
        using (var fresh = new MetadataStore(path))
        {
            foreach (var image in images)
                fresh.PutImage(image.Name, image.Target, image.CreatedAt);
        }
        return new MetadataCheck(damage, movedTo, images.Count, cacheRecords);
    }

    /// <summary>The image rows still readable, one at a time, so a damaged page loses only the rows on it.</summary>
    private static List<ImageRecord> Salvage(string path, out int cacheRecords)
    {
        var images = new List<ImageRecord>();
        cacheRecords = 0;
        SqliteConnection conn;
        try { conn = Sqlite.OpenReadOnly(path); }
        catch (SqliteException) { return images; }
        using (conn)
        {
            long maxRowId = Scalar(conn, "SELECT max(rowid) FROM images") ?? 100_000;
            cacheRecords = (int)(Scalar(conn, "SELECT count(*) FROM cache_records") ?? 0);
            for (long id = 1; id <= maxRowId; id++)
            {
                try
                {
                    using var cmd = conn.CreateCommand();
                    cmd.CommandText = "SELECT name, media_type, digest, size, created_at, updated_at FROM images WHERE rowid = $id";
                    cmd.Parameters.AddWithValue("$id", id);
                    using var r = cmd.ExecuteReader();
                    if (!r.Read() || !Digest.TryParse(r.GetString(2), out var digest)) continue;
                    images.Add(new ImageRecord(r.GetString(0), new Descriptor(r.GetString(1), digest, r.GetInt64(3)),
                        DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(4)), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(5))));
                }
                catch (Exception e) when (e is SqliteException or InvalidCastException or FormatException)
                {
                    // A row on a damaged page: lost, the others are still worth reading.
                }
            }
        }
        return images;
    }

    private static long? Scalar(SqliteConnection conn, string sql)
    {
        try
        {
            using var cmd = conn.CreateCommand();
            cmd.CommandText = sql;
            return cmd.ExecuteScalar() is { } v and not DBNull ? Convert.ToInt64(v, CultureInfo.InvariantCulture) : null;
        }
        catch (SqliteException) { return null; }
    }
}
