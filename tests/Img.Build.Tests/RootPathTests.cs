using Img.Build;
using Img.Dockerfile;

namespace Img.Build.Tests;

public sealed class RootPathTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("img-build-root-").FullName;

    public void Dispose() => Directory.Delete(_root, true);

    [Fact]
    public void AbsoluteSymlinksStayInsideTheRoot()
    {
        Directory.CreateDirectory(Path.Combine(_root, "real"));
        File.CreateSymbolicLink(Path.Combine(_root, "etc"), "/real");
        File.CreateSymbolicLink(Path.Combine(_root, "up"), "../../../../..");
        Assert.Equal(Path.Combine(_root, "real/passwd"), RootPath.Resolve(_root, "/etc/passwd"));
        Assert.Equal(Path.Combine(_root, "x"), RootPath.Resolve(_root, "/up/x"));
        Assert.Equal(Path.Combine(_root, "a"), RootPath.Resolve(_root, "/../../a"));
    }

    [Fact]
    public void FinalSymlinkIsKeptWhenAsked()
    {
        File.CreateSymbolicLink(Path.Combine(_root, "link"), "/target");
        Assert.Equal(Path.Combine(_root, "link"), RootPath.Resolve(_root, "/link", followFinal: false));
        Assert.Equal(Path.Combine(_root, "target"), RootPath.Resolve(_root, "/link"));
    }

    [Fact]
    public void LinkLoopsFail()
    {
        File.CreateSymbolicLink(Path.Combine(_root, "a"), "/b");
        File.CreateSymbolicLink(Path.Combine(_root, "b"), "/a");
        Assert.Throws<IOException>(() => RootPath.Resolve(_root, "/a/x"));
    }

    [Fact]
    public void CopierCopiesDirectoryContentsWithChmodAndOwner()
    {
        var src = Path.Combine(_root, "src");
        Directory.CreateDirectory(Path.Combine(src, "sub"));
        File.WriteAllText(Path.Combine(src, "sub", "f"), "data");
        File.CreateSymbolicLink(Path.Combine(src, "l"), "sub/f");
        File.WriteAllText(Path.Combine(src, "skip.log"), "no");
        var rootfs = Path.Combine(_root, "rootfs");
        Directory.CreateDirectory(rootfs);
        var dest = FileCopier.MakeDirectories(rootfs, "/app/dir", (0, 0));
        FileCopier.Copy(src, "", dest, new CopyOptions((0, 0), false, ChmodSpec.Parse("0640"), rel => !rel.EndsWith(".log", StringComparison.Ordinal)));
        Assert.Equal("data", File.ReadAllText(Path.Combine(rootfs, "app/dir/sub/f")));
        Assert.Equal("sub/f", new FileInfo(Path.Combine(rootfs, "app/dir/l")).LinkTarget);
        Assert.False(File.Exists(Path.Combine(rootfs, "app/dir/skip.log")));
        Assert.Equal((UnixFileMode)0b110_100_000, File.GetUnixFileMode(Path.Combine(rootfs, "app/dir/sub/f")));
        Assert.Equal(0u, Posix.Lstat(Path.Combine(rootfs, "app/dir/sub/f")).Uid);
    }
}
