using Img.Runtime.Oci;

namespace Img.Runtime.Tests;

/// <summary>Stub removal after a step that moved the stubs' directories away and left links to the host in their place.</summary>
public sealed class MountStubsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("img-stubs").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Stubs_are_removed_where_they_were_made_and_nowhere_else()
    {
        var rootfs = Path.Combine(_dir, "rootfs");
        var host = Path.Combine(_dir, "host");
        Directory.CreateDirectory(Path.Combine(rootfs, "etc"));
        Directory.CreateDirectory(Path.Combine(host, "secrets", "d"));
        File.WriteAllText(Path.Combine(host, "secrets", "x"), "");
        File.WriteAllText(Path.Combine(host, "hosts"), "");
        var hostTime = Directory.GetLastWriteTimeUtc(host);

        var stubs = new MountStubs(rootfs, ["/run/secrets/x", "/run/secrets/d", "/etc/hosts", "/tmp/cache"]);
        // What the runtime creates as mount points:
        Directory.CreateDirectory(Path.Combine(rootfs, "run", "secrets", "d"));
        File.WriteAllText(Path.Combine(rootfs, "run", "secrets", "x"), "");
        File.WriteAllText(Path.Combine(rootfs, "etc", "hosts"), "");
        Directory.CreateDirectory(Path.Combine(rootfs, "tmp", "cache"));
        // What the step did: /run moved away and replaced by a link to the host; /etc likewise.
        Directory.Move(Path.Combine(rootfs, "run"), Path.Combine(rootfs, "run.old"));
        File.CreateSymbolicLink(Path.Combine(rootfs, "run"), host);
        Directory.Move(Path.Combine(rootfs, "etc"), Path.Combine(rootfs, "etc.old"));
        File.CreateSymbolicLink(Path.Combine(rootfs, "etc"), host);

        stubs.Remove();

        Assert.True(File.Exists(Path.Combine(host, "secrets", "x")));
        Assert.True(Directory.Exists(Path.Combine(host, "secrets", "d")));
        Assert.True(File.Exists(Path.Combine(host, "hosts")));
        Assert.Equal(hostTime, Directory.GetLastWriteTimeUtc(host));
        Assert.False(Directory.Exists(Path.Combine(rootfs, "tmp")), "a stub that stayed in place is removed");
    }
}
