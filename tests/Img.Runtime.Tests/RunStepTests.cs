using System.Text.Json.Nodes;
using Img.TestSupport;
using static Img.Runtime.Tests.SandboxFixture;

namespace Img.Runtime.Tests;

/// <summary>RUN steps through runc/crun as the unprivileged user inside its namespace, on each backend that works here.</summary>
[Collection("sandbox")]
public sealed class RunStepTests(SandboxFixture sandbox)
{
    // Container uid 1000 is namespace uid 1000, which the map sends into the test user's subordinate range.
    private static long HostUidOf1000 => TestUserIds.SubUids.HostIdOf(1000);

    [Theory]
    [InlineData("overlayfs")]
    [InlineData("native")]
    public async Task Steps_create_change_chown_and_delete_files(string backend)
    {
        var state = NewState();
        var result = await sandbox.ScenarioAsync(true, backend, state,
            Step("echo hi > /f; mkdir -p /d/keep; touch /d/x; chown 1000:1000 /d/x; echo out; echo err >&2; id -u; cat /proc/self/uid_map"),
            Step("rm /f; echo changed >> /etc/group; mv /d /d2"),
            Step("echo partial; exit 3"));
        Assert.Equal(backend, (string)result["backend"]!);
        var steps = result["steps"]!.AsArray();

        var s0 = steps[0]!;
        Assert.Equal(0, (int)s0["exitCode"]!);
        Assert.StartsWith("out\n0\n", (string)s0["stdout"]!);
        Assert.Contains(TestUserIds.SubUids.MapLine, Lines((string)s0["stdout"]!));
        Assert.Equal("err\n", (string)s0["stderr"]!);
        var fs0 = (string)s0["fsDir"]!;
        Assert.Equal("hi\n", File.ReadAllText(Path.Combine(fs0, "f")));
        Assert.Equal(HostUidOf1000, await OwnerAsync(Path.Combine(fs0, "d", "x")));
        // Mount points the runtime needed are not part of the step's result.
        Assert.False(File.Exists(Path.Combine(fs0, "etc", "hosts")));
        Assert.False(File.Exists(Path.Combine(fs0, "etc", "resolv.conf")));
        Assert.False(Directory.Exists(Path.Combine(fs0, "proc")));
        Assert.False(Directory.Exists(Path.Combine(fs0, "sys")));
        Assert.False(Directory.Exists(Path.Combine(fs0, "dev")));

        var s1 = steps[1]!;
        Assert.Equal(0, (int)s1["exitCode"]!);
        var fs1 = (string)s1["fsDir"]!;
        Assert.EndsWith("changed\n", File.ReadAllText(Path.Combine(fs1, "etc", "group")));
        Assert.True(File.Exists(Path.Combine(fs1, "d2", "x")));
        if (backend == "overlayfs")
        {
            Assert.Equal(fs1, (string)s1["upperDir"]!);
            Assert.Equal("character special file 0 0", await StatAsync("%F %t %T", Path.Combine(fs1, "f")));
            Assert.False(File.Exists(Path.Combine(fs1, "bin", "busybox")), "an overlay layer holds only the change");
        }
        else
        {
            Assert.False(File.Exists(Path.Combine(fs1, "f")));
            Assert.True(File.Exists(Path.Combine(fs1, "bin", "busybox")), "a native snapshot is the whole tree");
        }

        var s2 = steps[2]!;
        Assert.Equal(3, (int)s2["exitCode"]!);
        Assert.Equal("partial\n", (string)s2["stdout"]!);
        foreach (var s in steps) Assert.Empty(s!["mountsLeft"]!.AsArray());
    }

    [Fact]
    public async Task User_env_and_cwd_are_applied()
    {
        var state = NewState();
        var result = await sandbox.ScenarioAsync(true, "overlayfs", state,
            Step("id; pwd; echo $A $HOME", user: "app", cwd: "/work", env: ["A=b"]),
            Step("id", user: "1000:1000"),
            Step("id", user: "app:extra"),
            Step("touch /tmp/owned; stat -c %u:%g /tmp/owned", user: "4242:4343"),
            Step("id", user: "ghost"));
        var steps = result["steps"]!.AsArray();
        Assert.Equal("uid=1000(app) gid=1000(app) groups=1000(app),2000(extra)\n/work\nb /home/app\n", (string)steps[0]!["stdout"]!);
        Assert.True(Directory.Exists(Path.Combine((string)steps[0]!["fsDir"]!, "work")), "the working directory is created and kept");
        Assert.Equal("uid=1000(app) gid=1000(app) groups=1000(app)\n", (string)steps[1]!["stdout"]!);
        Assert.Equal("uid=1000(app) gid=2000(extra) groups=2000(extra)\n", (string)steps[2]!["stdout"]!);
        Assert.Equal("4242:4343\n", (string)steps[3]!["stdout"]!);
        Assert.Equal("unable to find user ghost: no matching entries in passwd file", (string)steps[4]!["error"]!);
    }

    [Theory]
    [InlineData("overlayfs")]
    [InlineData("native")]
    public async Task Secret_cache_tmpfs_and_bind_mounts(string backend)
    {
        var state = NewState();
        var secret = Path.Combine(state, "token.txt");
        File.WriteAllText(secret, "s3cr3t");
        var context = Path.Combine(state, "context");
        Directory.CreateDirectory(context);
        File.WriteAllText(Path.Combine(context, "input"), "from-context");
        if (TestUser.RunningAsRoot)
            (await ProcessRunner.RunAsync("chown", ["-R", $"{TestUser.Name}:{TestUser.Name}", secret, context])).EnsureSuccess("chown");

        object Secret(string? target = null) => new { type = "secret", id = "token", source = secret, target, mode = "0400", uid = 1000u, gid = 1000u };
        object Cache() => new { type = "cache", id = "go-build", target = "/cache", sharing = "locked", uid = 1000u, gid = 1000u, mode = "0750" };
        object Tmpfs() => new { type = "tmpfs", target = "/scratch", size = 1048576L };
        object Bind(bool rw) => new { type = "bind", source = context, target = "/ctx", readWrite = rw };

        var result = await sandbox.ScenarioAsync(true, backend, state,
            Step("cat /run/secrets/token; stat -c '%a %u' /run/secrets/token; echo one > /cache/a; stat -c '%a %u' /cache; echo t > /scratch/t; cat /ctx/input; echo no > /ctx/input || echo ro",
                mounts: [Secret(), Cache(), Tmpfs(), Bind(false)]),
            Step("cat /cache/a; ls /scratch | wc -l; cat /etc/s; echo changed > /ctx/input && cat /ctx/input",
                mounts: [Cache(), Tmpfs(), Secret("/etc/s"), Bind(true)]));
        var steps = result["steps"]!.AsArray();
        var s0 = steps[0]!;
        Assert.Equal(0, (int)s0["exitCode"]!);
        Assert.Equal("s3cr3t400 1000\n750 1000\nfrom-contextro\n", (string)s0["stdout"]!);
        var fs0 = (string)s0["fsDir"]!;
        Assert.False(Directory.Exists(Path.Combine(fs0, "run")), "the secret's mount point is gone from the snapshot");
        Assert.False(Directory.Exists(Path.Combine(fs0, "scratch")));
        Assert.False(Directory.Exists(Path.Combine(fs0, "cache")));
        Assert.False(Directory.Exists(Path.Combine(fs0, "ctx")));

        var s1 = steps[1]!;
        Assert.Equal(0, (int)s1["exitCode"]!);
        Assert.Equal("one\n0\ns3cr3tchanged\n", (string)s1["stdout"]!);
        Assert.False(File.Exists(Path.Combine((string)s1["fsDir"]!, "etc", "s")), "a secret at a custom target leaves no file");
        Assert.Equal("from-context", File.ReadAllText(Path.Combine(context, "input")));
        // The cache persists in the state dir, owned by container uid 1000.
        var cacheDir = Directory.GetDirectories(Path.Combine(state, "cache-mounts")).Single();
        Assert.Equal("one\n", File.ReadAllText(Path.Combine(cacheDir, "a")));
        Assert.Equal(HostUidOf1000, await OwnerAsync(cacheDir));
        AssertNoSecretLeft(state);
    }

    [Theory]
    [InlineData("overlayfs")]
    [InlineData("native")]
    public async Task Cancellation_kills_the_container_and_leaves_no_mount(string backend)
    {
        var state = NewState();
        var sleep = backend == "native" ? "31" : "32";
        var result = await sandbox.ScenarioAsync(true, backend, state,
            Step($"echo started; sleep {sleep}; echo never", cancelAfterMs: 3000),
            Step("echo after"));
        var steps = result["steps"]!.AsArray();
        Assert.True((bool)steps[0]!["cancelled"]!);
        Assert.Equal("started\n", (string)steps[0]!["stdout"]!);
        Assert.Empty(steps[0]!["mountsLeft"]!.AsArray());
        Assert.Equal("after\n", (string)steps[1]!["stdout"]!);
        var left = await ProcessRunner.RunAsync("pgrep", ["-f", $"sleep {sleep}"]);
        Assert.Equal(1, left.ExitCode);
        Assert.Empty(Directory.GetDirectories(Path.Combine(state, "executor")));
    }

    [Fact]
    public async Task Auto_picks_kernel_overlayfs_in_the_namespace()
    {
        var result = await sandbox.ScenarioAsync(true, "auto", NewState(), Step("true"));
        Assert.Equal("overlayfs", (string)result["backend"]!);
    }

    [Fact]
    public async Task Renaming_a_lower_only_directory_in_a_namespace_overlay_is_exdev()
    {
        var overlay = JsonNode.Parse((await sandbox.RunAsUserAsync("rename-check", NewState(), "overlayfs")).EnsureSuccess("rename-check").Stdout)!;
        Assert.False((bool)overlay["renamesLowerDirectories"]!);
        Assert.Contains("cross-device", (string)overlay["outcome"]!);
        var native = JsonNode.Parse((await sandbox.RunAsUserAsync("rename-check", NewState(), "native")).EnsureSuccess("rename-check").Stdout)!;
        Assert.True((bool)native["renamesLowerDirectories"]!);
        Assert.Equal("renamed", (string)native["outcome"]!);
    }

    [Theory]
    [InlineData("overlayfs")]
    [InlineData("fuse-overlayfs")]
    [InlineData("native")]
    public async Task As_root_the_same_runs_without_a_namespace(string backend)
    {
        if (!TestUser.RunningAsRoot) return;
        var state = NewState();
        var result = await sandbox.ScenarioAsync(false, backend, state,
            Step("id -u; cat /proc/self/uid_map | wc -l; echo x > /x; chown 1000:1000 /x"));
        Assert.Contains("in user namespace: no", (string)result["namespace"]!);
        var s0 = result["steps"]!.AsArray()[0]!;
        Assert.Equal(0, (int)s0["exitCode"]!);
        Assert.Equal("0\n1\n", (string)s0["stdout"]!);
        Assert.Equal(1000, await OwnerAsync(Path.Combine((string)s0["fsDir"]!, "x")));
        Assert.Empty(s0["mountsLeft"]!.AsArray());
    }

    private static void AssertNoSecretLeft(string state)
    {
        foreach (var f in Directory.EnumerateFiles(Path.Combine(state, "snapshots"), "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
            if (new FileInfo(f).Length is > 0 and < 100 && new FileInfo(f).LinkTarget is null)
                Assert.DoesNotContain("s3cr3t", File.ReadAllText(f));
    }

    private static async Task<long> OwnerAsync(string path) => long.Parse(await StatAsync("%u", path));

    /// <summary>Output lines with their fields single-spaced (<c>/proc/self/uid_map</c> pads them).</summary>
    private static string[] Lines(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => string.Join(' ', l.Split(' ', StringSplitOptions.RemoveEmptyEntries))).ToArray();

    private static async Task<string> StatAsync(string format, string path) =>
        (await ProcessRunner.RunAsync("stat", ["-c", format, path])).EnsureSuccess("stat").Stdout.Trim();
}
