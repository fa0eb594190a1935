using System.Globalization;
using Img.Runtime.Interop;

namespace Img.Runtime.Namespaces;

/// <summary>How this process runs RUN steps and keeps snapshots.</summary>
public enum IsolationMode
{
    /// <summary>A user and mount namespace (or host root with CAP_SYS_ADMIN): the OCI runtime, any snapshot backend.</summary>
    Namespaces,

    /// <summary>
    /// No namespace and no mount: RUN steps run under proot (ptrace path translation with a faked uid 0), snapshots are
    /// plain directories used in place. For root without CAP_SYS_ADMIN (docker's defaults), Pod Security "Restricted"
    /// and users without subordinate ids.
    /// </summary>
    Proot,
}

/// <summary>
/// The isolation rung of this process. <see cref="RecordsOwners"/>: files cannot be given their image owners on disk
/// (not root, no namespace), so img records the owners it means (<c>user.containers.override_stat</c>) and layers
/// carry those.
/// </summary>
/// <param name="Mode">The rung.</param>
/// <param name="Why">Why this rung, for <c>-d</c> and <c>img info</c>.</param>
public sealed record Isolation(IsolationMode Mode, string Why)
{
    /// <summary><c>auto</c> (default), <c>userns</c> (the namespace rung or an error), <c>proot</c> (always the namespace-less rung).</summary>
    public const string Variable = "IMG_ISOLATION";

    private const int CapSysAdmin = 21;

    private static Isolation s_current = new(IsolationMode.Namespaces, "a user namespace");

    /// <summary>The rung this process uses; the namespace rung until <see cref="Use"/> says otherwise.</summary>
    public static Isolation Current => Volatile.Read(ref s_current);

    /// <summary>Sets the rung of this process (once, before any image work).</summary>
    public static void Use(Isolation isolation) => Volatile.Write(ref s_current, isolation);

    /// <summary>True when RUN runs under proot and snapshots are never mounted.</summary>
    public bool WithoutMounts => Mode == IsolationMode.Proot;

    /// <summary>True when owners are recorded by img rather than set on disk (proot as an ordinary user).</summary>
    public bool RecordsOwners => Mode == IsolationMode.Proot && Libc.Geteuid() != 0;

    /// <summary>The requested rung: <c>auto</c>, <c>userns</c> or <c>proot</c>; anything else is an error naming the variable.</summary>
    public static string Requested()
    {
        var value = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrEmpty(value)) return "auto";
        return value is "auto" or "userns" or "proot"
            ? value
            : throw new UserNamespaceException($"{Variable}={value} is not an isolation: use auto, userns or proot");
    }

    /// <summary>The proot binary, or null.</summary>
    public static string? ProotBinary => UserNamespace.FindBinary("proot");

    /// <summary>The namespace-less rung for <paramref name="why"/>; an error naming the package when proot is missing.</summary>
    public static Isolation Proot(string why) => ProotBinary is null
        ? throw new UserNamespaceException($"{why}, and proot is not installed: apt-get install proot (RUN steps then run without a namespace)")
        : new Isolation(IsolationMode.Proot, why);

    /// <summary>
    /// The rung decided before any namespace is tried, or null to try the user namespace (an ordinary user with
    /// subordinate ids, or <c>userns</c> asked for): <c>proot</c> asked for; host root without CAP_SYS_ADMIN (no
    /// mounts); an ordinary user without subordinate ids (a single-id namespace cannot chown).
    /// </summary>
    public static Isolation? DecideBeforeNamespace(bool hostRoot)
    {
        var requested = Requested();
        if (requested == "proot") return Proot($"{Variable}=proot");
        if (requested == "userns") return null;
        if (hostRoot)
            return HasCapability(CapSysAdmin) ? null : Proot("root without CAP_SYS_ADMIN cannot mount");
        var user = CurrentUser.Read();
        if ((user.SubUids is null || user.SubGids is null) && ProotBinary is not null)
            return new Isolation(IsolationMode.Proot, $"no subordinate {(user.SubUids is null ? "uid" : "gid")} range for {user.Name}");
        return null;
    }

    /// <summary>Whether the effective capability set holds capability <paramref name="bit"/> (from /proc/self/status).</summary>
    public static bool HasCapability(int bit)
    {
        try
        {
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("CapEff:", StringComparison.Ordinal));
            return line is not null && ulong.TryParse(line["CapEff:".Length..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var caps)
                && (caps & (1UL << bit)) != 0;
        }
        catch (IOException) { return false; }
    }

    /// <summary>One line for <c>img info</c>: the rung and what it costs.</summary>
    public string Cost => Mode == IsolationMode.Namespaces
        ? "user namespace + OCI runtime: real owners, overlay snapshots where the kernel allows"
        : "RUN under ptrace (each system call of a step stops in proot: slower RUN), snapshots are full copies, " +
          (Libc.Geteuid() == 0 ? "owners are real (root), " : "owners recorded by img (a RUN's chown from proot's trace: slower still; fchown is not), ") +
          "no RUN --network=none, binds are copies; a step shares img's PID namespace and can signal it";
}
