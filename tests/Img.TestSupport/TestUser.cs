namespace Img.TestSupport;

/// <summary>
/// The unprivileged user that tests run img as (tools/setup-machine.sh creates it with
/// subordinate id ranges). When the tests already run as an ordinary user, that user is used.
/// </summary>
public static class TestUser
{
    public static string Name => Environment.GetEnvironmentVariable("IMG_TEST_USER") is { Length: > 0 } u ? u : "imgtest";

    public static bool RunningAsRoot => Environment.UserName == "root" || GetEuid() == 0;

    /// <summary>The command line prefix that runs a program as the test user.</summary>
    public static (string File, List<string> Args) Wrap(string file, IEnumerable<string> args, IDictionary<string, string?>? env = null)
    {
        if (!RunningAsRoot) return (file, args.ToList());
        // setpriv keeps the environment we pass, unlike su/runuser which reset it.
        var wrapped = new List<string> { "--reuid", Name, "--regid", Name, "--init-groups", "--" , "env"};
        wrapped.Add($"HOME={Home}");
        wrapped.Add($"USER={Name}");
        wrapped.Add($"LOGNAME={Name}");
        if (env is not null)
            foreach (var (k, v) in env)
                if (v is not null) wrapped.Add($"{k}={v}");
        wrapped.Add(file);
        wrapped.AddRange(args);
        return ("setpriv", wrapped);
    }

    public static string Home => RunningAsRoot ? Path.Combine("/home", Name) : Environment.GetEnvironmentVariable("HOME") ?? "/tmp";

    /// <summary>A fresh directory the test user owns.</summary>
    public static string CreateOwnedTempDir(string prefix)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        if (RunningAsRoot)
        {
            File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            ProcessRunner.RunAsync("chown", [$"{Name}:{Name}", dir]).GetAwaiter().GetResult().EnsureSuccess("chown");
        }
        return dir;
    }

    private static uint GetEuid() => uint.TryParse(File.ReadAllLines("/proc/self/status")
        .FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal))?.Split('\t', StringSplitOptions.RemoveEmptyEntries)[2], out var id) ? id : uint.MaxValue;
}
