using Img.Archive.Layers;

namespace Img.Archive.Tests.Layers;

/// <summary>Several trees in one tar, each under its own top-level directory (multi-platform rootfs tars).</summary>
public sealed class PrefixedTreesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("img-prefixed").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Each_tree_lands_under_its_prefix_with_links_kept_inside_it()
    {
        var amd = Path.Combine(_dir, "amd");
        var arm = Path.Combine(_dir, "arm");
        Tree.Write(amd, "bin/busybox", "amd64\n", mode: 0b111_101_101);
        File.CreateSymbolicLink(Path.Combine(amd, "bin", "sh"), "busybox");
        var a = Tree.Write(arm, "bin/busybox", "arm64\n", mode: 0b111_101_101);
        Assert.Equal(0, Native.LinkAt(Native.AT_FDCWD, a, Native.AT_FDCWD, Path.Combine(arm, "bin", "hard")));
        File.SetUnixFileMode(arm, (UnixFileMode)0b111_101_000);

        var (_, blob) = await Tree.WriteLayer(new PrefixedTreesLayerSource([("linux_amd64", amd), ("linux_arm64", arm)]));
        var entries = await Tree.ReadEntries(blob);
        Assert.Equal(
            ["linux_amd64", "linux_amd64/bin", "linux_amd64/bin/busybox", "linux_amd64/bin/sh",
             "linux_arm64", "linux_arm64/bin", "linux_arm64/bin/busybox", "linux_arm64/bin/hard"],
            entries.Select(e => e.Name.TrimEnd('/')));
        Assert.Equal(TarEntryKind.Directory, entries[0].Kind);
        Assert.Equal(0b111_101_000u, entries[4].Mode & 0b111_111_111);
        Assert.Equal("busybox", entries[3].LinkName);
        Assert.Equal(TarEntryKind.HardLink, entries[7].Kind);
        Assert.Equal("linux_arm64/bin/busybox", entries[7].LinkName);
    }

    [Fact]
    public async Task A_prefix_is_one_path_component()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "t"));
        await Assert.ThrowsAsync<ArgumentException>(() => Tree.WriteLayer(new PrefixedTreesLayerSource([("a/b", Path.Combine(_dir, "t"))])));
    }
}
