using System.Globalization;

namespace Img.Runtime.Namespaces;

/// <summary>
/// Turns unshare's refusal into the real cause and its fix: a seccomp filter (docker's default profile), a
/// newuidmap without the privilege to write the map (setuid in a container lacking CAP_SYS_ADMIN), the namespace
/// limit, and only the sysctls this kernel actually has.
/// </summary>
public static class UserNamespaceDiagnosis
{
    /// <summary>What the machine says about itself, read once when a namespace could not be made.</summary>
    /// <param name="SeccompMode">0 none, 1 strict, 2 filter (/proc/self/status).</param>
    /// <param name="UnprivilegedUsernsClone">kernel.unprivileged_userns_clone when the kernel has it (Debian's older kernels).</param>
    /// <param name="ApparmorRestrict">kernel.apparmor_restrict_unprivileged_userns when the kernel has it (Ubuntu 24.04+).</param>
    /// <param name="MaxUserNamespaces">user.max_user_namespaces as this namespace sees it.</param>
    /// <param name="NewuidmapSetuid">newuidmap carries the setuid bit.</param>
    /// <param name="InContainer">Signs of a container (/.dockerenv, /run/.containerenv, a Kubernetes service env).</param>
    /// <param name="NewuidmapFileCapabilities">newuidmap carries cap_setuid as a file capability (security.capability).</param>
    public sealed record Facts(int? SeccompMode, string? UnprivilegedUsernsClone, string? ApparmorRestrict, string? MaxUserNamespaces,
        bool NewuidmapSetuid, bool InContainer, bool NewuidmapFileCapabilities = false)
    {
        /// <summary>Reads the facts of this process and machine.</summary>
        public static Facts Read()
        {
            int? seccomp = null;
            try
            {
                var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("Seccomp:", StringComparison.Ordinal));
                if (line is not null && int.TryParse(line["Seccomp:".Length..].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var m)) seccomp = m;
            }
            catch (IOException) { }
            var newuidmap = IdMapper.Of("newuidmap");
            var container = File.Exists("/.dockerenv") || File.Exists("/run/.containerenv") ||
                            !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("KUBERNETES_SERVICE_HOST"));
            return new Facts(seccomp, Sysctl("/proc/sys/kernel/unprivileged_userns_clone"), Sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"),
                Sysctl("/proc/sys/user/max_user_namespaces"), newuidmap == IdMapperPrivilege.Setuid, container,
                newuidmap == IdMapperPrivilege.FileCapabilities);
        }

        private static string? Sysctl(string path)
        {
            try { return File.Exists(path) ? File.ReadAllText(path).Trim() : null; }
            catch (IOException) { return null; }
            catch (UnauthorizedAccessException) { return null; }
        }
    }

    /// <summary>One line: what failed, why, and what to change.</summary>
    public static string Explain(string unshareStderr, Facts facts)
    {
        var why = unshareStderr.Trim().Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0) ?? "unshare failed";
        if (why.Contains("failed to execute", StringComparison.Ordinal))
            return $"cannot create a user namespace: {why}: install the uidmap package (newuidmap, newgidmap) and keep it on PATH";
        if (why.Contains("newuidmap", StringComparison.Ordinal) || why.Contains("newgidmap", StringComparison.Ordinal) ||
            why.Contains("uid_map", StringComparison.Ordinal) || why.Contains("gid_map", StringComparison.Ordinal))
        {
            var cause = facts.NewuidmapSetuid && facts.InContainer
                ? "a setuid newuidmap needs CAP_SYS_ADMIN, which this container does not have"
                : "newuidmap/newgidmap lack the privilege to map your subordinate ids";
            return $"cannot map the user namespace's ids ({why}): {cause}; give them file capabilities instead of the setuid bit " +
                   "(setcap cap_setuid+ep /usr/bin/newuidmap && setcap cap_setgid+ep /usr/bin/newgidmap), or on Kubernetes run the pod with hostUsers: false";
        }
        if (why.Contains("No space left on device", StringComparison.Ordinal))
            return $"cannot create a user namespace ({why}): the limit of user namespaces is reached (user.max_user_namespaces is {facts.MaxUserNamespaces ?? "unknown"} here, " +
                   "or lower in a parent namespace): raise it (sysctl user.max_user_namespaces=15000) or end other namespaces";
        if (why.Contains("Operation not permitted", StringComparison.Ordinal))
        {
            if (facts.SeccompMode == 2)
                return $"cannot create a user namespace ({why}): a seccomp filter forbids it (docker's default profile does for a container without CAP_SYS_ADMIN): " +
                       "run the container with --security-opt seccomp=unconfined, or a profile that allows unshare and clone with CLONE_NEWUSER " +
                       "(Kubernetes: securityContext.seccompProfile.type: Unconfined)";
            if (facts.UnprivilegedUsernsClone == "0")
                return $"cannot create a user namespace ({why}): unprivileged user namespaces are disabled: sysctl kernel.unprivileged_userns_clone=1";
            if (facts.ApparmorRestrict == "1")
                return $"cannot create a user namespace ({why}): AppArmor restricts unprivileged user namespaces: sysctl kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile for img that allows userns";
            if (facts.MaxUserNamespaces == "0")
                return $"cannot create a user namespace ({why}): user namespaces are disabled: sysctl user.max_user_namespaces=15000";
            return $"cannot create a user namespace ({why}): the kernel or a security module refused it (check user.max_user_namespaces and any SELinux or AppArmor policy)";
        }
        return $"cannot create a user namespace: {why}";
    }
}
