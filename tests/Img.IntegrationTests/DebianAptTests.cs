using Img.TestSupport;

namespace Img.IntegrationTests;

/// <summary>
/// apt-get install in RUN on a debootstrapped Debian, as the unprivileged test user, on every snapshot
/// backend: dpkg renames files and directories that only exist in lower layers, which kernel overlayfs
/// in a user namespace (no redirect_dir) refuses with EXDEV where the original img failed.
/// </summary>
public sealed class DebianAptTests
{
    private const string Dockerfile = """
        FROM debian:bookworm
        RUN apt-get update && apt-get install -y --no-install-recommends file && rm -rf /var/lib/apt/lists/*
        RUN file --version && file /bin/sh
        """;

    [Theory]
    [InlineData("overlayfs")]
    [InlineData("native")]
    [InlineData("auto")]
    public async Task AptGetInstallThenRunTheProgram(string backend)
    {
        var img = new ImgCli();
        await img.RunAsync("import", await DebianRootfs.TarballAsync(), "debian:bookworm");
        var context = TestUser.CreateOwnedTempDir("apt-ctx");
        await File.WriteAllTextAsync(Path.Combine(context, "Dockerfile"), Dockerfile + "\n");

        var r = await img.TryAsync("build", "--no-console", "-b", backend, "-t", "apt-" + backend, context);
        Assert.True(r.ExitCode == 0, $"img build -b {backend} failed ({r.ExitCode}):\n{r.Stderr}");
        Assert.Contains("Setting up file (", r.Stderr);
        Assert.Matches(@"file-5\.\d+", r.Stderr);
        Assert.Contains("/bin/sh: symbolic link to dash", r.Stderr);
        Assert.DoesNotContain("Invalid cross-device link", r.Stderr);

        // The installed program is in the image the build wrote.
        var dest = Path.Combine(TestUser.CreateOwnedTempDir("apt-unpack"), "rootfs");
        await img.RunAsync("unpack", "-o", dest, "apt-" + backend);
        Assert.True(File.Exists(Path.Combine(dest, "usr/bin/file")), "usr/bin/file is missing from the unpacked image");
        Assert.Contains("Package: file\n", await File.ReadAllTextAsync(Path.Combine(dest, "var/lib/dpkg/status")));
    }

    [Fact]
    public async Task RenameOfALowerLayerDirectoryWorksUnderOverlayfs()
    {
        // rename(2) itself, not mv (which copies on EXDEV): the step runs again on a copy of its parent.
        var img = new ImgCli();
        await img.RunAsync("import", await DebianRootfs.TarballAsync(), "debian:bookworm");
        var context = TestUser.CreateOwnedTempDir("rename-ctx");
        await File.WriteAllTextAsync(Path.Combine(context, "Dockerfile"), """
            FROM debian:bookworm
            RUN perl -e 'rename("/etc/apt", "/etc/apt-moved") or die "rename: $!\n"' && touch /etc/apt-moved/marker
            RUN test -d /etc/apt-moved/apt.conf.d && test ! -e /etc/apt && ls /etc/apt-moved

            """);
        var r = await img.TryAsync("build", "--no-console", "-b", "overlayfs", "-t", "renamed", context);
        Assert.True(r.ExitCode == 0, $"img build failed ({r.ExitCode}):\n{r.Stderr}");
        Assert.Contains("running this step again on a copy", r.Stderr);
        Assert.Contains("marker", r.Stderr);

        var dest = Path.Combine(TestUser.CreateOwnedTempDir("rename-unpack"), "rootfs");
        await img.RunAsync("unpack", "-o", dest, "renamed");
        Assert.True(File.Exists(Path.Combine(dest, "etc/apt-moved/marker")));
        Assert.True(Directory.Exists(Path.Combine(dest, "etc/apt-moved/apt.conf.d")));
        Assert.False(Directory.Exists(Path.Combine(dest, "etc/apt")), "the renamed directory is still in the image");
    }
}
