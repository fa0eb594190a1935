using System.Diagnostics;
using System.Globalization;
using Img.TestSupport;

namespace Img.IntegrationTests;

/// <summary>
/// <c>img info</c> as the unprivileged test user: every value it prints is checked against the machine itself
/// (/etc/passwd, /etc/subuid, the newuidmap file, /proc/self/status, the backend a real build picks).
/// </summary>
public sealed class InfoTests
{
    [Fact]
    public async Task Info_says_who_the_user_is_what_the_machine_allows_and_what_img_uses()
    {
        var img = new ImgCli();
        var watch = Stopwatch.StartNew();
        var r = await img.RunAsync("info");
        watch.Stop();
        var lines = Fields(r.Stdout);

        Assert.Equal(TestUser.RunningAsRoot ? TestUser.Name : Environment.UserName, lines["name"]);
        Assert.Equal(string.Create(CultureInfo.InvariantCulture, $"{TestUserIds.Uid} / {TestUserIds.Gid}"), lines["uid / gid"]);
        Assert.Equal($"{TestUserIds.SubUids.Start}:{TestUserIds.SubUids.Count}", lines["subuid"]);
        Assert.Equal($"{TestUserIds.SubGids.Start}:{TestUserIds.SubGids.Count}", lines["subgid"]);

        var seccomp = File.ReadLines("/proc/self/status").First(l => l.StartsWith("Seccomp:", StringComparison.Ordinal))["Seccomp:".Length..].Trim();
        Assert.Equal(seccomp switch { "0" => "disabled", "1" => "strict", _ => "filter" }, lines["seccomp"]);
        var setuid = (File.GetUnixFileMode("/usr/bin/newuidmap") & UnixFileMode.SetUser) != 0;
        var getcap = await ProcessRunner.RunAsync("getcap", ["/usr/bin/newuidmap"]);
        var expected = setuid ? "setuid root" : getcap.Stdout.Contains("cap_setuid", StringComparison.Ordinal) ? "file capabilities" : "neither setuid nor file capabilities";
        Assert.Equal(expected, lines["newuidmap"]);
        // Every other image test runs in this namespace, so it can be made here, and how is the newuidmap above.
        Assert.Equal($"yes, through newuidmap/newgidmap {expected}", lines["possible"]);

        // What auto resolves to is the snapshot directory a real build uses.
        var ctx = TestUser.CreateOwnedTempDir("info-ctx");
        await File.WriteAllTextAsync(Path.Combine(ctx, "Dockerfile"), "FROM scratch\nCOPY Dockerfile /\n");
        await img.RunAsync("build", "--no-console", "-t", "info-probe", ctx);
        var used = Directory.GetDirectories(Path.Combine(img.StateDir, "snapshots")).Select(Path.GetFileName).Single();
        Assert.Equal(used, lines["auto"]);

        // A fresh /proc is what RUN steps have on this machine (RunStepTests run with a PID namespace of their own).
        Assert.Equal("yes", lines["pid namespace"]);
        Assert.Equal("yes", lines["fresh /proc"]);
        Assert.Matches("^(runc|crun) \\(/", lines["runtime"]);
        Assert.Contains("missing: nothing", r.Stdout);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"img info took {watch.Elapsed}");
    }

    [Fact]
    public async Task Info_does_not_touch_the_state_directory_and_takes_no_arguments()
    {
        var img = new ImgCli();
        (await img.RunAsync("info")).EnsureSuccess("img info");
        Assert.False(Directory.Exists(img.StateDir), "img info created the state directory");
        var r = await img.TryAsync("info", "extra");
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("Error: no arguments expected", r.Stderr);
        var help = await img.RunAsync("info", "--help");
        Assert.Contains("Usage: img info", help.Stdout);
    }

    /// <summary>The <c> key : value</c> lines of the report.</summary>
    internal static Dictionary<string, string> Fields(string stdout)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in stdout.Split('\n'))
        {
            if (!line.StartsWith(' ') || line.StartsWith(" - ", StringComparison.Ordinal)) continue;
            int colon = line.IndexOf(" : ", StringComparison.Ordinal);
            if (colon > 0) fields.TryAdd(line[..colon].Trim(), line[(colon + 3)..].Trim());
        }
        return fields;
    }
}
