using System.Globalization;

namespace Img.Runtime.Oci;

/// <summary>The process identity of a RUN step, resolved like docker does through the rootfs's /etc/passwd and /etc/group.</summary>
public sealed record ExecUser(uint Uid, uint Gid, IReadOnlyList<uint> AdditionalGids, string Home)
{
    /// <summary>Resolves <paramref name="user"/> (<c>name</c>, <c>uid</c>, <c>name:group</c>, <c>uid:gid</c>; empty = root).</summary>
    /// <exception cref="InvalidOperationException">A name is not in the rootfs's passwd or group file.</exception>
    public static ExecUser Resolve(string rootfs, string? user)
    {
        var spec = string.IsNullOrEmpty(user) ? "0" : user;
        var colon = spec.IndexOf(':', StringComparison.Ordinal);
        var userPart = colon < 0 ? spec : spec[..colon];
        var groupPart = colon < 0 ? null : spec[(colon + 1)..];
        var passwd = ReadDb(Path.Combine(rootfs, "etc/passwd"), 7);
        var groups = ReadDb(Path.Combine(rootfs, "etc/group"), 4);

        string[]? entry = passwd.FirstOrDefault(p => p[0] == userPart);
        uint uid;
        if (entry is not null) uid = ParseId(entry[2]);
        else if (TryId(userPart, out uid)) entry = passwd.FirstOrDefault(p => TryId(p[2], out var u) && u == uid);
        else throw new InvalidOperationException($"unable to find user {userPart}: no matching entries in passwd file");

        uint gid = entry is not null && TryId(entry[3], out var pg) ? pg : 0;
        var home = entry is not null && entry[5].Length > 0 ? entry[5] : "/";
        var additional = new List<uint>();
        if (!string.IsNullOrEmpty(groupPart))
        {
            var g = groups.FirstOrDefault(x => x[0] == groupPart);
            if (g is not null) gid = ParseId(g[2]);
            else if (!TryId(groupPart, out gid)) throw new InvalidOperationException($"unable to find group {groupPart}: no matching entries in group file");
        }
        else if (entry is not null)
        {
            foreach (var g in groups)
                if (g[3].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Contains(entry[0]) && TryId(g[2], out var sg))
                    additional.Add(sg);
        }
        if (!additional.Contains(gid)) additional.Insert(0, gid);
        return new ExecUser(uid, gid, additional, home);
    }

    private static List<string[]> ReadDb(string path, int fields)
    {
        if (!File.Exists(path)) return [];
        return File.ReadLines(path)
            .Where(l => l.Length > 0 && l[0] != '#')
            .Select(l => l.Split(':'))
            .Where(f => f.Length >= fields)
            .ToList();
    }

    private static bool TryId(string s, out uint id) => uint.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out id);

    private static uint ParseId(string s) => TryId(s, out var id) ? id : throw new InvalidOperationException($"invalid id {s} in the rootfs's passwd or group file");
}
