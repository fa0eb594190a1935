using Img.Fs;
using Img.Runtime.Proot;

namespace Img.Runtime.Tests;

/// <summary>
/// Reading proot's trace (<c>-v 3</c>) into owner records: chown, lchown and fchownat are recorded for paths inside the
/// rootfs, -1 keeps an id, fchown is counted, mknod of a device leaves an empty file recorded as that device, a path outside the rootfs or behind a symlink is never touched, and
/// proot's own warnings are passed on.
/// </summary>
public sealed class ChownLogTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "chownlog-" + Guid.NewGuid().ToString("N"));
    private string Root => Path.Combine(_dir, "rootfs");

    public ChownLogTests()
    {
        Directory.CreateDirectory(Path.Combine(Root, "etc"));
        File.WriteAllText(Path.Combine(Root, "f"), "f");
        File.WriteAllText(Path.Combine(Root, "etc", "g"), "g");
        File.WriteAllText(Path.Combine(_dir, "outside"), "host file");
        File.CreateSymbolicLink(Path.Combine(Root, "out"), _dir);
    }

    public void Dispose() => FileTree.RemoveTree(_dir);

    private static IEnumerable<string> Call(int pid, string call, string guest, string host) =>
    [
        $"proot info: pid {pid}: sysenter start: {call} = 0xffffffffffffffda [0x7ffe9225b808, 0]",
        $"proot info: pid {pid}: translate(\"/\" + \"{guest}\")",
        $"proot info: pid {pid}:          -> \"{host}\"",
    ];

    [Fact]
    public void RecordsTheOwnersTheStepAskedFor()
    {
        var log = new ChownLog(Root);
        var lines = Call(7, "chown(0x7ff302b6fb60, 0x4d2, 0x4d2, 0x100, 0x4d2, 0x0)", "/f", Path.Combine(Root, "f"))
            .Concat(Call(8, "fchownat(0xffffff9c, 0x7ff3, 0x64, 0x65, 0x0, 0x0)", "/etc/g", Path.Combine(Root, "etc", "g")))
            .Concat(Call(8, "chown(0x7ff3, 0xffffffff, 0x7, 0x0, 0x0, 0x0)", "/etc/g", Path.Combine(Root, "etc", "g")))
            .Concat(["proot info: pid 9: sysenter start: fchown(0x3, 0x1, 0x1, 0x0, 0x0, 0x0) = 0xffffffffffffffda [0x1, 0]"])
            .Concat(Call(10, "chown(0x7ff3, 0x1, 0x1, 0x0, 0x0, 0x0)", "/../outside", Path.Combine(_dir, "outside")))
            .Concat(Call(11, "chown(0x7ff3, 0x2, 0x2, 0x0, 0x0, 0x0)", "/out/outside", Path.Combine(Root, "out", "outside")))
            .Concat(Call(12, "mknodat(0xffffff9c, 0x7fb7, 0x21b6, 0x103, 0x0, 0x0)", "/etc/null", Path.Combine(Root, "etc", "null")))
            .Append("proot warning: can't sanitize binding \"/x\": No such file or directory");
        var shown = lines.Select(log.Read).Where(l => l is not null).ToList();

        Assert.Equal(["proot warning: can't sanitize binding \"/x\": No such file or directory"], shown);
        Assert.Equal(4, log.Apply());
        // mknod, which proot fakes: an empty file whose record is the character device 1,3 (/dev/null) 0666.
        Assert.Equal(new OwnerRecord(0, 0, Native.S_IFCHR | 0b110_110_110, 1, 3), OwnerRecord.Read(Path.Combine(Root, "etc", "null")));
        Assert.Equal(1, log.Unrecorded);
        Assert.Equal((1234u, 1234u), Owner(Path.Combine(Root, "f")));
        Assert.Equal((100u, 7u), Owner(Path.Combine(Root, "etc", "g"))); // -1 kept the uid the fchownat gave
        Assert.Null(OwnerRecord.Read(Path.Combine(_dir, "outside")));
    }

    private static (uint, uint) Owner(string path) => OwnerRecord.Read(path) is { } r ? (r.Uid, r.Gid) : (uint.MaxValue, uint.MaxValue);
}
