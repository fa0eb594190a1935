using System.Globalization;
using Img.Runtime.Oci;

namespace Img.Build;

/// <summary><c>--chown</c>: names through the rootfs's passwd/group; a user without a group uses the uid as gid.</summary>
internal static class ChownSpec
{
    public static (uint, uint) Resolve(string rootfs, string chown)
    {
        var colon = chown.IndexOf(':', StringComparison.Ordinal);
        var userPart = colon < 0 ? chown : chown[..colon];
        var groupPart = colon < 0 ? null : chown[(colon + 1)..];
        uint uid, gid;
        try
        {
            uid = uint.TryParse(userPart, NumberStyles.None, CultureInfo.InvariantCulture, out var u) ? u : ExecUser.Resolve(rootfs, userPart).Uid;
            if (groupPart is null) gid = uid;
            else if (uint.TryParse(groupPart, NumberStyles.None, CultureInfo.InvariantCulture, out var g)) gid = g;
            else gid = ExecUser.Resolve(rootfs, "0:" + groupPart).Gid;
        }
        catch (InvalidOperationException e)
        {
            throw new BuildFailedException(e.Message, e);
        }
        return (uid, gid);
    }
}
