using System.Globalization;

namespace Img.TestSupport;

/// <summary>A block of subordinate ids: host ids <see cref="Start"/> … <see cref="Start"/> + <see cref="Count"/> - 1.</summary>
public readonly record struct IdRange(long Start, long Count)
{
    /// <summary>The host id a namespace id maps to when the namespace maps 0 to the user and 1… onto this range.</summary>
    public long HostIdOf(long namespaceId) => namespaceId == 0 ? throw new ArgumentOutOfRangeException(nameof(namespaceId)) : Start + namespaceId - 1;

    /// <summary>The line <c>/proc/self/uid_map</c> shows for this range, fields single-spaced.</summary>
    public string MapLine => $"1 {Start} {Count}";
}

/// <summary>
/// The test user's real ids, read from the system, so expectations hold on a machine where other users
/// already hold subordinate ranges: uid and gid from <c>/etc/passwd</c>, the range img maps from
/// <c>/etc/subuid</c> and <c>/etc/subgid</c> (entries named by user or uid; the largest wins, as img picks).
/// </summary>
public static class TestUserIds
{
    // Without root the tests run img as whoever runs them.
    private static string UserName => TestUser.RunningAsRoot ? TestUser.Name : Environment.UserName;

    private static readonly Lazy<(long Uid, long Gid)> Ids = new(() =>
    {
        foreach (var line in File.ReadLines("/etc/passwd"))
        {
            var f = line.Split(':');
            if (f.Length >= 4 && f[0] == UserName)
                return (long.Parse(f[2], CultureInfo.InvariantCulture), long.Parse(f[3], CultureInfo.InvariantCulture));
        }
        throw new InvalidOperationException($"test user {UserName} is not in /etc/passwd (tools/setup-machine.sh creates it)");
    });

    public static long Uid => Ids.Value.Uid;
    public static long Gid => Ids.Value.Gid;

    /// <summary>The subordinate uid range the user's namespace maps onto ids 1….</summary>
    public static IdRange SubUids => Largest("/etc/subuid", Uid);

    /// <summary>The subordinate gid range the user's namespace maps onto ids 1….</summary>
    public static IdRange SubGids => Largest("/etc/subgid", Uid);

    private static IdRange Largest(string file, long uid)
    {
        IdRange? best = null;
        foreach (var raw in File.ReadLines(file))
        {
            var f = raw.Trim().Split(':');
            if (f.Length != 3 || (f[0] != UserName && f[0] != uid.ToString(CultureInfo.InvariantCulture))) continue;
            if (!long.TryParse(f[1], CultureInfo.InvariantCulture, out var start) || !long.TryParse(f[2], CultureInfo.InvariantCulture, out var count) || count <= 0) continue;
            if (best is null || count > best.Value.Count) best = new IdRange(start, count);
        }
        return best ?? throw new InvalidOperationException($"test user {UserName} has no range in {file} (tools/setup-machine.sh adds one)");
    }
}
