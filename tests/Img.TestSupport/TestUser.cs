namespace Img.TestSupport;

/// <summary>
/// The unprivileged user that tests run img as (tools/setup-machine.sh creates it with
/// subordinate id ranges). When the tests already run as an ordinary user, that user is used.
/// </summary>
public static class TestUser
{
    public static string Name => Environment.GetEnvironmentVariable("IMG_TEST_USER") is { Length: > 0 } u ? u : "imgtest";

    public static bool RunningAsRoot => Environment.UserName == "root" || GetEuid() == 0;

    /// <summary>
    /// The user tools/setup-machine.sh creates without subordinate ids (the test user's name + "nosub"), or null with
    /// the reason when this machine has no such user or it has ranges.
    /// </summary>
    public static string? WithoutSubordinateIds(out string why)
    {
        var name = Name + "nosub";
        why = "";
        if (!RunningAsRoot) { why = "the tests do not run as root, so they cannot run img as another user"; return null; }
        if (!File.ReadLines("/etc/passwd").Any(l => l.StartsWith(name + ":", StringComparison.Ordinal)))
        { why = $"no user {name} (tools/setup-machine.sh creates it)"; return null; }
        foreach (var file in new[] { "/etc/subuid", "/etc/subgid" })
            if (File.Exists(file) && File.ReadLines(file).Any(l => l.StartsWith(name + ":", StringComparison.Ordinal)))
            { why = $"{name} has a range in {file} (tools/setup-machine.sh removes it)"; return null; }
        return name;
    }

    /// <summary>The command line prefix that runs a program as the test user (or <paramref name="user"/>).</summary>
    public static (string File, List<string> Args) Wrap(string file, IEnumerable<string> args, IDictionary<string, string?>? env = null, string? user = null)
    {
        if (!RunningAsRoot) return (file, args.ToList());
        var name = user ?? Name;
        // setpriv keeps the environment we pass, unlike su/runuser which reset it.
        var wrapped = new List<string> { "--reuid", name, "--regid", name, "--init-groups", "--" , "env"};
        wrapped.Add($"HOME={Path.Combine("/home", name)}");
        wrapped.Add($"USER={name}");
        wrapped.Add($"LOGNAME={name}");
        if (env is not null)
            foreach (var (k, v) in env)
                if (v is not null) wrapped.Add($"{k}={v}");
        wrapped.Add(file);
        wrapped.AddRange(args);
        return ("setpriv", wrapped);
    }

    public static string Home => RunningAsRoot ? Path.Combine("/home", Name) : Environment.GetEnvironmentVariable("HOME") ?? "/tmp";

    /// <summary>A fresh directory the test user (or <paramref name="user"/>) owns.</summary>
    public static string CreateOwnedTempDir(string prefix, string? user = null)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        if (RunningAsRoot)
        {
            File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            ProcessRunner.RunAsync("chown", [$"{user ?? Name}:{user ?? Name}", dir]).GetAwaiter().GetResult().EnsureSuccess("chown");
        }
        return dir;
    }

    private static uint GetEuid() => uint.TryParse(File.ReadAllLines("/proc/self/status")
        .FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal))?.Split('\t', StringSplitOptions.RemoveEmptyEntries)[2], out var id) ? id : uint.MaxValue;
}
