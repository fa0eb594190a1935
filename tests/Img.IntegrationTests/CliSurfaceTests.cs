using Img.TestSupport;

namespace Img.IntegrationTests;

public sealed class CliSurfaceTests
{
    private readonly ImgCli _img = new();

    [Fact]
    public async Task NoArgumentsPrintsHelpAndExitsZero()
    {
        var r = await _img.RunRawAsync([]);
        Assert.Equal(0, r.ExitCode);
        Assert.StartsWith("img -  Standalone, daemon-less, unprivileged Dockerfile and OCI compatible container image builder", r.Stdout);
        foreach (var cmd in new[] { "build", "du", "fsck", "inspect", "load", "login", "logout", "ls", "prune", "pull", "push", "rm", "save", "tag", "unpack", "version" })
            Assert.Contains($"\n  {cmd.PadRight(11)} ", r.Stdout);
    }

    [Fact]
    public async Task ANamespaceThatCannotBeMadeIsOneActionableErrorAndLeavesNothing()
    {
        // unshare finds newuidmap through PATH: without it the namespace cannot be made. Nothing is probed up front,
        // so the explanation comes after the failed attempt, from the mark the child never removed.
        var tmp = TestUser.CreateOwnedTempDir("userns-fail");
        var img = new ImgCli();
        img.Env["PATH"] = "/nonexistent";
        img.Env["TMPDIR"] = tmp;
        img.Env["IMG_ISOLATION"] = "userns"; // no fallback to the proot rung
        var r = await img.TryAsync("ls");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("Error: cannot create a user namespace: unshare: failed to execute newuidmap", r.Stderr);
        Assert.Empty(Directory.EnumerateFileSystemEntries(tmp));

        // auto: the same refusal, said in one warning, and the command runs on the proot rung.
        img.Env.Remove("IMG_ISOLATION");
        var fallback = await img.TryAsync("ls");
        Assert.Equal(0, fallback.ExitCode);
        Assert.Contains("warning: cannot create a user namespace (cannot create a user namespace: unshare: failed to execute newuidmap", fallback.Stderr);
        Assert.Contains("RUN steps run under proot", fallback.Stderr);
        Assert.Empty(Directory.EnumerateFileSystemEntries(tmp));

        img.Env.Remove("PATH");
        var ok = await img.TryAsync("ls");
        Assert.Equal(0, ok.ExitCode);
        Assert.Empty(Directory.EnumerateFileSystemEntries(tmp));
    }

    [Fact]
    public async Task WithNowhereToPutTheMarkTheNamespaceIsProbedFirst()
    {
        var img = new ImgCli();
        img.Env["TMPDIR"] = "/nonexistent/img-tmp";
        img.Env["IMG_ISOLATION"] = "userns";
        Assert.Equal(0, (await img.TryAsync("ls")).ExitCode);
        img.Env["PATH"] = "/nonexistent";
        var r = await img.TryAsync("ls");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("Error: cannot create a user namespace: unshare: failed to execute newuidmap", r.Stderr);
    }

    [Fact]
    public async Task UnknownCommandIsAnErrorNamingIt()
    {
        var r = await _img.TryAsync("frobnicate");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("Error: img: 'frobnicate' is not an img command.\nSee 'img --help'", r.Stderr);
    }

    [Fact]
    public async Task BoolGlobalFlagBeforeTheCommandWorks()
    {
        // The original swallowed the command after -d; ours does not.
        var r = await _img.RunRawAsync(["-d", "--state", _img.StateDir, "ls"]);
        Assert.Equal(0, r.ExitCode);
        Assert.StartsWith("NAME\tSIZE\tCREATED AT\tUPDATED AT\tDIGEST", r.Stdout);
        var after = await _img.RunRawAsync(["ls", "-d", "-s", _img.StateDir]);
        Assert.Equal(0, after.ExitCode);
    }

    [Fact]
    public async Task InvalidBackendIsRejected()
    {
        var r = await _img.TryAsync("-b", "zfs", "ls");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("Error: zfs is not a valid snapshots backend\n", r.Stderr);
    }

    [Fact]
    public async Task VersionFlagAndCommand()
    {
        var flag = await _img.RunRawAsync(["-v"]);
        Assert.Equal(0, flag.ExitCode);
        Assert.Matches(@"^img version v\d+\.\d+\.\d+, build ([0-9a-f]{8}|unknown)\n$", flag.Stdout);
        var cmd = await _img.RunAsync("version");
        Assert.Contains("img:\n version     : v", cmd.Stdout);
        Assert.Contains(" platform    : linux/", cmd.Stdout);
        Assert.Contains(" compiler    : NativeAOT", cmd.Stdout);
        Assert.Matches(@"\n(crun|runc):\n path        : /", cmd.Stdout);
    }

    [Fact]
    public async Task SubcommandHelpHasLocalAndGlobalFlags()
    {
        var r = await _img.RunRawAsync(["save", "--help"]);
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(
            "save -  Save an image to a tar archive (streamed to STDOUT by default).\n\n" +
            "Usage: img save [OPTIONS] IMAGE [IMAGE...]\n\n" +
            "Flags:\n" +
            "      --format string   image output format (docker|oci) (default \"docker\")\n" +
            "  -h, --help            help for save\n" +
            "  -o, --output string   write to a file, instead of STDOUT\n\n" +
            "Global Flags:\n", r.Stdout[..r.Stdout.IndexOf("Global Flags:\n", StringComparison.Ordinal)] + "Global Flags:\n");
        Assert.Contains("  -s, --state string     directory to hold the global state", r.Stdout);
    }

    [Fact]
    public async Task UnknownFlagIsAUsageError()
    {
        var r = await _img.TryAsync("ls", "--bogus");
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("Error: unknown flag: --bogus\n", r.Stderr);
    }

    [Fact]
    public async Task DefaultStateDirectoryFollowsXdgDataHome()
    {
        var xdg = TestUser.CreateOwnedTempDir("xdg");
        var img = new ImgCli();
        img.Env["XDG_DATA_HOME"] = xdg + ":/ignored";
        var r = await img.RunRawAsync(["ls"]);
        Assert.Equal(0, r.ExitCode);
        Assert.True(File.Exists(Path.Combine(xdg, "img", "metadata.db")), "state created under $XDG_DATA_HOME/img");
        var mode = File.GetUnixFileMode(Path.Combine(xdg, "img"));
        Assert.Equal(UnixFileMode.None, mode & (UnixFileMode.GroupWrite | UnixFileMode.OtherWrite | UnixFileMode.OtherRead));
    }

    [Fact]
    public async Task UnwritableStateDirectoryIsAClearError()
    {
        var r = await _img.RunRawAsync(["--state", "/proc/img-state", "ls"]);
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("Error: state directory /proc/img-state is not", r.Stderr);
        Assert.Equal(1, r.Stderr.TrimEnd('\n').Split('\n').Length);
    }
}
