using Img.TestSupport;

namespace Img.Runtime.Tests;

/// <summary>A minimal rootfs: Debian's static busybox with its applets as symlinks, and root, nobody and app (1000) users.</summary>
public static class BusyboxRootfs
{
    public static async Task<string> CreateAsync()
    {
        var parent = TestUser.CreateOwnedTempDir("img-busybox");
        var root = Path.Combine(parent, "rootfs");
        foreach (var d in new[] { "bin", "etc", "tmp", "root", "home/app" }) Directory.CreateDirectory(Path.Combine(root, d));
        File.Copy("/bin/busybox", Path.Combine(root, "bin", "busybox"));
        var list = (await ProcessRunner.RunAsync("/bin/busybox", ["--list"])).EnsureSuccess("busybox --list").Stdout;
        foreach (var applet in list.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            if (applet != "busybox") File.CreateSymbolicLink(Path.Combine(root, "bin", applet), "busybox");
        await File.WriteAllTextAsync(Path.Combine(root, "etc", "passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n");
        await File.WriteAllTextAsync(Path.Combine(root, "etc", "group"),
            "root:x:0:\nnogroup:x:65534:\napp:x:1000:\nextra:x:2000:app\n");
        File.SetUnixFileMode(Path.Combine(root, "tmp"), (UnixFileMode)Convert.ToInt32("1777", 8));
        // Owned by the test user, the tree is root-owned inside the user's namespace.
        if (TestUser.RunningAsRoot)
            (await ProcessRunner.RunAsync("chown", ["-R", $"{TestUser.Name}:{TestUser.Name}", parent])).EnsureSuccess("chown rootfs");
        return root;
    }
}
