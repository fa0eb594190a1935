using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;

namespace Img.Content;

/// <summary>Opens SQLite databases on the system's libsqlite3, once per process.</summary>
internal static class Sqlite
{
    private static readonly Lazy<bool> Initialized = new(() =>
    {
        // The provider asks for "sqlite3"; Debian ships the runtime library as libsqlite3.so.0
        // (the unversioned name exists only with the -dev package).
        NativeLibrary.SetDllImportResolver(typeof(SQLitePCL.SQLite3Provider_sqlite3).Assembly, (name, _, _) =>
            name == "sqlite3" && NativeLibrary.TryLoad("libsqlite3.so.0", out var h) ? h : IntPtr.Zero);
        SQLitePCL.raw.SetProvider(new SQLitePCL.SQLite3Provider_sqlite3());
        return true;
    });

    public static SqliteConnection Open(string path)
    {
        _ = Initialized.Value;
        var conn = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
            DefaultTimeout = 60,
        }.ToString());
        conn.Open();
        // WAL lets readers run beside one writer; busy_timeout makes concurrent img processes wait, not fail.
        Exec(conn, "PRAGMA busy_timeout=30000; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
        return conn;
    }

    /// <summary>
    /// A read-only connection that takes no lock and needs no shared-memory file (SQLite's immutable mode): for
    /// reading a damaged database, which no other process is using, during its repair.
    /// </summary>
    public static SqliteConnection OpenReadOnly(string path)
    {
        _ = Initialized.Value;
        var conn = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = new Uri(path).AbsoluteUri + "?immutable=1",
            Mode = SqliteOpenMode.ReadOnly,
            Pooling = false,
        }.ToString());
        conn.Open();
        return conn;
    }

    public static void Exec(SqliteConnection conn, string sql, params (string Name, object? Value)[] args)
    {
        using var cmd = conn.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (n, v) in args) cmd.Parameters.AddWithValue(n, v ?? DBNull.Value);
        cmd.ExecuteNonQuery();
    }
}
