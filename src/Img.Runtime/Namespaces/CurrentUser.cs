using Img.Runtime.Interop;

namespace Img.Runtime.Namespaces;

/// <summary>Who runs img and which subordinate ranges its namespace would map (the ones <see cref="UserNamespace"/> picks).</summary>
/// <param name="Name">The user's name.</param>
/// <param name="Uid">The effective uid.</param>
/// <param name="Gid">The effective gid.</param>
/// <param name="SubUids">The largest range in /etc/subuid, or null.</param>
/// <param name="SubGids">The largest range in /etc/subgid, or null.</param>
public sealed record CurrentUser(string Name, uint Uid, uint Gid, SubordinateRange? SubUids, SubordinateRange? SubGids)
{
    /// <summary>Reads this process's user.</summary>
    public static CurrentUser Read()
    {
        uint uid = Libc.Geteuid(), gid = Libc.Getegid();
        var names = UserNamespace.UserNames();
        SubordinateRange? Largest(string file) => SubordinateIds.Largest(names.SelectMany(n => SubordinateIds.Read(file, n, uid)).Distinct().ToList());
        return new CurrentUser(names.FirstOrDefault() ?? uid.ToString(System.Globalization.CultureInfo.InvariantCulture), uid, gid,
            Largest("/etc/subuid"), Largest("/etc/subgid"));
    }

    /// <summary>True for root, who needs no user namespace.</summary>
    public bool IsRoot => Uid == 0;
}
