using Img.TestSupport;

namespace Img.IntegrationTests;

/// <summary>
/// A root filesystem made offline from Debian's static busybox, as a tarball the test user owns:
/// the base image for tests, since the machine has no registry to pull one from.
/// </summary>
public static class BusyboxRootfs
{
    private static readonly Lazy<Task<string>> Tarball = new(CreateAsync);

    public static Task<string> TarballAsync() => Tarball.Value;

    private static async Task<string> CreateAsync()
    {
        var dir = TestUser.CreateOwnedTempDir("busybox-rootfs");
        var root = Path.Combine(dir, "rootfs");
        foreach (var d in new[] { "bin", "etc", "tmp", "root", "home/app" })
            Directory.CreateDirectory(Path.Combine(root, d));
        File.Copy("/bin/busybox", Path.Combine(root, "bin", "busybox"));
        var list = await ProcessRunner.RunAsync("/bin/busybox", ["--list"]);
        foreach (var applet in list.EnsureSuccess("busybox --list").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            if (applet != "busybox") File.CreateSymbolicLink(Path.Combine(root, "bin", applet), "busybox");
        await File.WriteAllTextAsync(Path.Combine(root, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
        await File.WriteAllTextAsync(Path.Combine(root, "etc", "group"), "root:x:0:\napp:x:1000:\nnogroup:x:65534:\n");
        var tar = Path.Combine(dir, "busybox.tar");
        (await ProcessRunner.RunAsync("tar", ["--numeric-owner", "--owner=0", "--group=0", "-C", root, "-cf", tar, "."]))
            .EnsureSuccess("tar");
        if (TestUser.RunningAsRoot)
            (await ProcessRunner.RunAsync("chown", ["-R", $"{TestUser.Name}:{TestUser.Name}", dir])).EnsureSuccess("chown");
        return tar;
    }
}
