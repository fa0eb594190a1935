using System.Buffers.Binary;
using Img.Fs;

namespace Img.Runtime.Namespaces;

/// <summary>Where newuidmap/newgidmap get the privilege to write a namespace's id maps from.</summary>
public enum IdMapperPrivilege
{
    /// <summary>The program is not installed.</summary>
    Missing,

    /// <summary>Setuid root: in a container this also needs CAP_SYS_ADMIN in the bounding set, which docker does not give.</summary>
    Setuid,

    /// <summary>File capabilities (cap_setuid / cap_setgid in the security.capability xattr): works in an unprivileged container.</summary>
    FileCapabilities,

    /// <summary>Neither: only root could use it.</summary>
    None,
}

/// <summary>Reads how newuidmap and newgidmap are privileged (shadow-utils' uidmap package installs them setuid).</summary>
public static class IdMapper
{
    private const int CapSetgid = 6, CapSetuid = 7;

    /// <summary>The privilege of <paramref name="name"/> (newuidmap or newgidmap) as installed here.</summary>
    public static IdMapperPrivilege Of(string name)
    {
        var path = UserNamespace.FindBinary(name);
        if (path is null) return IdMapperPrivilege.Missing;
        var real = new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path;
        if ((File.GetUnixFileMode(real) & UnixFileMode.SetUser) != 0) return IdMapperPrivilege.Setuid;
        byte[]? caps;
        try { caps = Native.GetXattr(real, "security.capability"); }
        catch (NativeException) { caps = null; }
        var needed = Path.GetFileName(name).Contains("gid", StringComparison.Ordinal) ? CapSetgid : CapSetuid;
        return caps is not null && PermitsCapability(caps, needed) ? IdMapperPrivilege.FileCapabilities : IdMapperPrivilege.None;
    }

    /// <summary>
    /// True when a vfs_cap_data value (little-endian: magic/flags, then permitted and inheritable words per 32 capabilities)
    /// permits capability <paramref name="capability"/>.
    /// </summary>
    public static bool PermitsCapability(ReadOnlySpan<byte> vfsCapData, int capability)
    {
        if (vfsCapData.Length < 12 || capability is < 0 or >= 32) return false;
        var permitted = BinaryPrimitives.ReadUInt32LittleEndian(vfsCapData.Slice(4, 4));
        return (permitted & (1u << capability)) != 0;
    }

    /// <summary>The words <c>img info</c> shows for a privilege.</summary>
    public static string Describe(IdMapperPrivilege privilege) => privilege switch
    {
        IdMapperPrivilege.Missing => "not installed",
        IdMapperPrivilege.Setuid => "setuid root",
        IdMapperPrivilege.FileCapabilities => "file capabilities",
        _ => "neither setuid nor file capabilities",
    };
}
