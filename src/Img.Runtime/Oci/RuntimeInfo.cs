using System.Diagnostics;
using Img.Runtime.Namespaces;

namespace Img.Runtime.Oci;

/// <summary>The OCI runtime binary in use and what its <c>--version</c> says.</summary>
/// <param name="Name">crun or runc (the file name).</param>
/// <param name="Path">Its absolute path.</param>
/// <param name="VersionLines">Its <c>--version</c> output, one entry a line.</param>
public sealed record RuntimeInfo(string Name, string Path, IReadOnlyList<string> VersionLines)
{
    /// <summary>Names the runtime to use (a path or a name on PATH).</summary>
    public const string EnvironmentVariable = "IMG_RUNTIME";

    /// <summary>
    /// <c>IMG_RUNTIME</c> when set, else <c>crun</c>, else <c>runc</c>, searched on PATH plus /usr/sbin and /sbin
    /// (Debian installs runc in /usr/sbin, outside an ordinary user's PATH).
    /// </summary>
    /// <exception cref="InvalidOperationException">None is installed.</exception>
    public static RuntimeInfo Find()
    {
        var wanted = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrEmpty(wanted))
        {
            var path = UserNamespace.FindBinary(wanted) ?? throw new InvalidOperationException($"OCI runtime {wanted} (from {EnvironmentVariable}) not found");
            return Describe(path);
        }
        foreach (var name in new[] { "crun", "runc" })
        {
            // crun (1.8) refuses to start anything on a hybrid cgroup v1/v2 host, even with cgroups disabled.
            if (name == "crun" && HybridCgroups()) continue;
            if (UserNamespace.FindBinary(name) is { } path) return Describe(path);
        }
        throw new InvalidOperationException("no OCI runtime found: install crun or runc");
    }

    /// <summary>True when cgroup v1 hierarchies sit beside a cgroup2 mount at /sys/fs/cgroup/unified.</summary>
    public static bool HybridCgroups()
    {
        try
        {
            var mounts = File.ReadAllLines("/proc/self/mountinfo").Select(l => l.Split(' ')).Where(f => f.Length > 4).ToList();
            bool unified = mounts.Any(f => f[4] == "/sys/fs/cgroup/unified");
            bool rootIsV2 = mounts.Any(f => f[4] == "/sys/fs/cgroup" && Array.IndexOf(f, "cgroup2") > 0);
            return unified && !rootIsV2;
        }
        catch (IOException) { return false; }
    }

    /// <summary><c>v2</c>, <c>hybrid</c>, <c>v1</c> or <c>none</c>: the cgroup layout at /sys/fs/cgroup (rootless RUN uses none of it).</summary>
    public static string CgroupMode()
    {
        if (HybridCgroups()) return "hybrid";
        try
        {
            var types = File.ReadAllLines("/proc/self/mountinfo").Select(l => l.Split(' '))
                .Where(f => f.Length > 4 && f[4].StartsWith("/sys/fs/cgroup", StringComparison.Ordinal))
                .Select(f => f[Math.Min(f.Length - 1, Array.IndexOf(f, "-") + 1)]).ToList();
            return types.Contains("cgroup2") ? "v2" : types.Contains("cgroup") ? "v1" : "none";
        }
        catch (IOException) { return "none"; }
    }

    /// <summary>Runs <c>PATH --version</c>.</summary>
    public static RuntimeInfo Describe(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        var psi = new ProcessStartInfo(full, "--version") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {full}");
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        var stderr = err.Result.Trim();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"unable to check {System.IO.Path.GetFileName(full)} version: {full} --version exited with {p.ExitCode}" + (stderr.Length > 0 ? ": " + stderr : ""));
        return new RuntimeInfo(System.IO.Path.GetFileName(full), full, output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    /// <summary>True for crun, which takes <c>--cgroup-manager=disabled</c>.</summary>
    public bool IsCrun => Name.StartsWith("crun", StringComparison.Ordinal);
}
