using Img.TestSupport;

namespace Img.IntegrationTests;

/// <summary>
/// The repository's Containerfile — the image img runs from in Docker and Kubernetes — built by img as the
/// unprivileged test user, its Debian base pulled from a real registry, the published binary taken from the context.
/// </summary>
public sealed class ContainerfileTests
{
    [Fact]
    public async Task Img_builds_its_own_image_from_a_registry_debian_base()
    {
        await using var registry = await RegistryServer.StartAsync(RegistryShape.Plain);
        var baseName = $"{registry.HostPort}/library/debian:bookworm";
        // The base reaches the registry from another state directory, so the build really pulls it.
        var pusher = new ImgCli();
        await pusher.RunAsync("import", await DebianRootfs.TarballAsync(), baseName);
        await pusher.RunAsync("push", baseName);

        var ctx = TestUser.CreateOwnedTempDir("containerfile-ctx");
        File.Copy(RepoPaths.ImgBinary, Path.Combine(ctx, "img"));
        var containerfile = Path.Combine(RepoPaths.Root, "Containerfile");
        var img = new ImgCli();
        var name = $"{registry.HostPort}/img/img:test";
        var r = await img.TryAsync("build", "--no-console", "-f", containerfile, "--build-arg", "BASE=" + baseName, "-t", name, ctx);
        Assert.True(r.ExitCode == 0, $"img build -f Containerfile failed ({r.ExitCode}):\n{r.Stderr}");
        await img.RunAsync("push", name);

        // What the image promises, checked from inside it: file-capability id mappers (no setuid bit), the user with
        // its ranges, the working directory, and img itself.
        var check = TestUser.CreateOwnedTempDir("containerfile-check");
        await File.WriteAllTextAsync(Path.Combine(check, "Dockerfile"), $"""
            FROM {name}
            RUN getcap /usr/bin/newuidmap /usr/bin/newgidmap && test ! -u /usr/bin/newuidmap && test ! -u /usr/bin/newgidmap && echo no-setuid
            RUN id && pwd && cat /etc/subuid /etc/subgid && for p in runc crun fuse-overlayfs proot; do command -v $p; done && img version && ls -ld .local/share/img
            RUN IMG_NO_USERNS=1 img -s /tmp/store ls

            """);
        var c = await new ImgCli().TryAsync("build", "--no-console", "-t", "img-check", check);
        Assert.True(c.ExitCode == 0, $"building FROM the img image failed ({c.ExitCode}):\n{c.Stderr}");
        Assert.Matches(@"/usr/bin/newuidmap cap_setuid[=+]ep", c.Stderr);
        Assert.Matches(@"/usr/bin/newgidmap cap_setgid[=+]ep", c.Stderr);
        Assert.Contains("no-setuid", c.Stderr);
        Assert.Contains("uid=1000(user) gid=1000(user)", c.Stderr);
        Assert.Contains("/home/user\n", c.Stderr);
        Assert.Equal(2, c.Stderr.Split('\n').Count(l => l.EndsWith(" user:100000:65536", StringComparison.Ordinal)));
        Assert.Contains("/usr/sbin/runc", c.Stderr);
        Assert.Contains("/usr/bin/crun", c.Stderr);
        Assert.Contains("/usr/bin/fuse-overlayfs", c.Stderr);
        Assert.Contains("/usr/bin/proot", c.Stderr);
        Assert.Matches(@"compiler\s+: NativeAOT", c.Stderr);
        // The state directory is the user's (a volume mounted there starts out the user's), and the store opens:
        // img's SQLite library is in the image.
        Assert.Matches(@"drwx------ +\d+ user +user .* \.local/share/img\n", c.Stderr);
        Assert.Matches(@"NAME\s+SIZE\s+CREATED AT", c.Stderr);
    }
}
