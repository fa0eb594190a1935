using System.Text;
using Img.Archive.Layers;
using Img.TestSupport;

namespace Img.Archive.Tests.Layers;

public class WhiteoutTests
{
    private static void BuildLower(string lower)
    {
        Tree.Write(lower, "keep", "keep");
        Tree.Write(lower, "gone", "gone");
        Tree.Write(lower, "gonedir/a", "a");
        Tree.Write(lower, "gonedir/sub/b", "b");
        Tree.Write(lower, "opq/old1", "old");
        Tree.Write(lower, "opq/olddir/x", "old");
        Tree.Write(lower, "same/unchanged", "u");
        Tree.Write(lower, "same/modified", "before");
        Tree.Write(lower, "typechange/wasfile", "file");
        Tree.Write(lower, "typechange/wasdir/inner", "inner");
        Tree.Write(lower, "chmodded", "c");
    }

    private static async Task<byte[]> WhiteoutLayer() => await Tree.BuildTar(
        Tree.File(".wh.gone", ""),
        Tree.File(".wh.gonedir", ""),
        Tree.Dir("opq"),
        Tree.File("opq/new-before-marker", "new"),
        Tree.File("opq/.wh..wh..opq", ""),
        Tree.File("opq/new-after-marker", "new"),
        Tree.File("never/existed/.wh.nothing", ""),
        Tree.File(".wh..wh.plnk", ""));

    [Fact]
    public async Task WhiteoutsDeleteAndOpaqueDirsHideLowerContentInMergedMode()
    {
        using var dir = new TempDir();
        var root = dir.Sub("root");
        BuildLower(root);
        await Tree.Apply(await WhiteoutLayer(), root);
        Assert.True(File.Exists(Path.Combine(root, "keep")));
        Assert.False(File.Exists(Path.Combine(root, "gone")));
        Assert.False(Directory.Exists(Path.Combine(root, "gonedir")));
        Assert.Equal(["new-after-marker", "new-before-marker"], Directory.GetFileSystemEntries(Path.Combine(root, "opq")).Select(Path.GetFileName).Order());
        Assert.False(Directory.Exists(Path.Combine(root, "never")));
        Assert.False(File.Exists(Path.Combine(root, ".wh..wh.plnk")));
        Assert.DoesNotContain(Directory.GetFileSystemEntries(root, "*", SearchOption.AllDirectories), p => Path.GetFileName(p).StartsWith(".wh.", StringComparison.Ordinal));
    }

    [Fact]
    public async Task OpaqueHidesLowerContentInsideSubdirectoriesTheLayerAlsoWrites()
    {
        using var dir = new TempDir();
        var root = dir.Sub("root");
        BuildLower(root); // opq/olddir/x is lower content
        var layer = await Tree.BuildTar(
            Tree.Dir("opq"), Tree.Dir("opq/olddir"), Tree.File("opq/olddir/mine", "m"), Tree.File("opq/.wh..wh..opq", ""),
            Tree.Dir("same", 0b111_000_000), Tree.Dir("same", 0b111_101_000));
        await Tree.Apply(layer, root);
        Assert.Equal(["mine"], Directory.GetFileSystemEntries(Path.Combine(root, "opq/olddir")).Select(Path.GetFileName));
        Assert.Equal(["olddir"], Directory.GetFileSystemEntries(Path.Combine(root, "opq")).Select(Path.GetFileName));
        // A directory that appears twice ends with the last entry's mode.
        Assert.Equal(0b111_101_000u, Native.Lstat(Path.Combine(root, "same"))!.Value.Permissions);
    }

    [Fact]
    public async Task OverlayUpperModeWritesCharDevicesAndOpaqueXattrs()
    {
        using var dir = new TempDir();
        var upper = dir.Sub("upper");
        await Tree.Apply(await WhiteoutLayer(), upper, new ApplyOptions { Mode = ApplyMode.OverlayUpper, OverlayXattrPrefix = "user.overlay." });
        Assert.True(Native.Lstat(Path.Combine(upper, "gone"))!.Value.IsWhiteoutDevice);
        Assert.True(Native.Lstat(Path.Combine(upper, "gonedir"))!.Value.IsWhiteoutDevice);
        Assert.True(Native.Lstat(Path.Combine(upper, "never/existed/nothing"))!.Value.IsWhiteoutDevice);
        Assert.Equal("y"u8.ToArray(), Native.GetXattr(Path.Combine(upper, "opq"), "user.overlay.opaque"));
        Assert.True(File.Exists(Path.Combine(upper, "opq/new-before-marker")));
        Assert.True(File.Exists(Path.Combine(upper, "opq/new-after-marker")));

        // And back: the upper dir converts to the same changes.
        var (_, blob) = await Tree.WriteLayer(new OverlayUpperLayerSource(upper));
        var names = (await Tree.ReadEntries(blob)).Select(e => $"{e.Kind} {e.Name}").ToList();
        Assert.Equal([
            "File .wh.gone", "File .wh.gonedir", "Directory never", "Directory never/existed", "File never/existed/.wh.nothing",
            "Directory opq", "File opq/.wh..wh..opq", "File opq/new-after-marker", "File opq/new-before-marker"], names);
    }

    [Fact]
    public async Task HandMadeUpperDirConvertsToOciWhiteouts()
    {
        using var dir = new TempDir();
        var upper = dir.Sub("upper");
        Tree.Write(upper, "etc/new.conf", "n");
        Assert.Equal(0, Native.MknodAt(Native.AT_FDCWD, Path.Combine(upper, "etc/removed"), Native.S_IFCHR, 0));
        Directory.CreateDirectory(Path.Combine(upper, "var/cache"));
        Tree.SetXattr(Path.Combine(upper, "var/cache"), "user.overlay.opaque", "y"u8.ToArray());
        Tree.Write(upper, "var/cache/fresh", "f");
        Directory.CreateDirectory(Path.Combine(upper, "var/notopaque"));
        Tree.SetXattr(Path.Combine(upper, "var/notopaque"), "user.overlay.opaque", "x"u8.ToArray());
        Tree.Write(upper, "xattrwh", "");
        Tree.SetXattr(Path.Combine(upper, "xattrwh"), "user.overlay.whiteout", []);
        Tree.SetXattr(Path.Combine(upper, "etc/new.conf"), "user.kept", "1"u8.ToArray());
        Tree.SetXattr(Path.Combine(upper, "etc/new.conf"), "user.overlay.origin", "private"u8.ToArray());
        if (Tree.IsRoot)
        {
            Directory.CreateDirectory(Path.Combine(upper, "root-opaque"));
            Tree.SetXattr(Path.Combine(upper, "root-opaque"), "trusted.overlay.opaque", "y"u8.ToArray());
        }
        var (_, blob) = await Tree.WriteLayer(new OverlayUpperLayerSource(upper));
        var entries = await Tree.ReadEntries(blob);
        var names = entries.Select(e => $"{e.Kind} {e.Name}").ToList();
        // Whiteouts stand where the name they delete sorts.
        var expected = new List<string> { "Directory etc", "File etc/new.conf", "File etc/.wh.removed" };
        if (Tree.IsRoot) expected.AddRange(["Directory root-opaque", "File root-opaque/.wh..wh..opq"]);
        expected.AddRange(["Directory var", "Directory var/cache", "File var/cache/.wh..wh..opq", "File var/cache/fresh", "Directory var/notopaque", "File .wh.xattrwh"]);
        Assert.Equal(expected, names);
        var conf = entries.Single(e => e.Name == "etc/new.conf");
        Assert.Equal(["user.kept"], conf.Xattrs.Keys);
        Assert.All(entries, e => Assert.DoesNotContain(e.Xattrs.Keys, k => k.Contains("overlay", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task RedirectedDirectoriesInAnUpperAreRefused()
    {
        using var dir = new TempDir();
        var upper = dir.Sub("upper");
        Directory.CreateDirectory(Path.Combine(upper, "moved"));
        Tree.SetXattr(Path.Combine(upper, "moved"), "user.overlay.redirect", "/orig"u8.ToArray());
        var ex = await Assert.ThrowsAsync<LayerFormatException>(() => Tree.WriteLayer(new OverlayUpperLayerSource(upper)));
        Assert.Contains("redirect_dir", ex.Message);
    }

    [Fact]
    public async Task RealOverlayMountDiffMatchesTheMergedView()
    {
        if (!Tree.IsRoot) return; // mounting overlayfs here needs root; the rootless path is the user-namespace test in Img.Runtime
        using var dir = new TempDir();
        var lower = dir.Sub("lower");
        var upper = dir.Sub("upper");
        var work = dir.Sub("work");
        var merged = dir.Sub("merged");
        BuildLower(lower);
        await Tree.Run("mount", "-t", "overlay", "overlay", "-o", $"lowerdir={lower},upperdir={upper},workdir={work}", merged);
        string expected;
        try
        {
            File.Delete(Path.Combine(merged, "gone"));
            Directory.Delete(Path.Combine(merged, "gonedir"), recursive: true);
            Directory.Delete(Path.Combine(merged, "opq"), recursive: true);
            Directory.CreateDirectory(Path.Combine(merged, "opq"));
            Tree.Write(merged, "opq/fresh", "fresh");
            Tree.Write(merged, "same/modified", "after!");
            Tree.Write(merged, "added/deep/file", "added");
            File.Delete(Path.Combine(merged, "typechange/wasfile"));
            Directory.CreateDirectory(Path.Combine(merged, "typechange/wasfile"));
            Directory.Delete(Path.Combine(merged, "typechange/wasdir"), recursive: true);
            File.CreateSymbolicLink(Path.Combine(merged, "typechange/wasdir"), "../keep");
            Assert.Equal(0, Native.ChmodAt(Native.AT_FDCWD, Path.Combine(merged, "chmodded"), 0b111_000_000));
            expected = Tree.Describe(merged, withDirMtimes: false);
        }
        finally { await Tree.Run("umount", merged); }

        var (_, blob) = await Tree.WriteLayer(new OverlayUpperLayerSource(upper), Img.Oci.Compression.Gzip);
        var names = (await Tree.ReadEntries(blob)).Select(e => e.Name).ToList();
        Assert.Contains(".wh.gone", names);
        Assert.Contains(".wh.gonedir", names);
        Assert.Contains("opq/.wh..wh..opq", names);
        Assert.DoesNotContain("keep", names);

        var target = dir.Sub("target");
        await TreeCopy.CopyAsync(lower, target);
        await Tree.Apply(blob, target);
        Assert.Equal(expected, Tree.Describe(target, withDirMtimes: false));

        // The same layer applied as an upper dir gives the same merged view through a real mount.
        var upper2 = dir.Sub("upper2");
        var work2 = dir.Sub("work2");
        await Tree.Apply(blob, upper2, new ApplyOptions { Mode = ApplyMode.OverlayUpper, OverlayXattrPrefix = "trusted.overlay." });
        await Tree.Run("mount", "-t", "overlay", "overlay", "-o", $"lowerdir={lower},upperdir={upper2},workdir={work2}", merged);
        try { Assert.Equal(expected, Tree.Describe(merged, withDirMtimes: false)); }
        finally { await Tree.Run("umount", merged); }
    }

    [Fact]
    public async Task TwoTreeDiffProducesExactlyTheChanges()
    {
        using var dir = new TempDir();
        var lower = dir.Sub("lower");
        BuildLower(lower);
        var upper = Path.Combine(dir.Path, "upper");
        await TreeCopy.CopyAsync(lower, upper);
        File.Delete(Path.Combine(upper, "gone"));
        Directory.Delete(Path.Combine(upper, "gonedir"), recursive: true);
        // Same size and same whole-second mtime: only the content tells.
        Tree.Write(upper, "same/modified", "BEFORE");
        Tree.Write(upper, "added/deep/file", "added");
        File.Delete(Path.Combine(upper, "typechange/wasfile"));
        Directory.CreateDirectory(Path.Combine(upper, "typechange/wasfile"));
        Directory.Delete(Path.Combine(upper, "typechange/wasdir"), recursive: true);
        File.CreateSymbolicLink(Path.Combine(upper, "typechange/wasdir"), "../keep");
        Assert.Equal(0, Native.ChmodAt(Native.AT_FDCWD, Path.Combine(upper, "chmodded"), 0b111_000_000));
        Tree.SetXattr(Path.Combine(upper, "keep"), "user.tag", "v"u8.ToArray());
        // Directory mtimes moved (entries were created and removed) but directories compare by metadata.
        var (_, blob) = await Tree.WriteLayer(new TreeDiffLayerSource(lower, upper));
        var names = (await Tree.ReadEntries(blob)).Select(e => $"{e.Kind} {e.Name}").ToList();
        Assert.Equal([
            "Directory added", "Directory added/deep", "File added/deep/file",
            "File chmodded",
            "File .wh.gone",
            "File .wh.gonedir",
            "File keep",
            "Directory same", "File same/modified",
            "Directory typechange", "Symlink typechange/wasdir", "Directory typechange/wasfile"], names);

        var target = Path.Combine(dir.Path, "target");
        await TreeCopy.CopyAsync(lower, target);
        await Tree.Apply(blob, target);
        Assert.Equal(Tree.Describe(upper, withDirMtimes: false), Tree.Describe(target, withDirMtimes: false));
    }

    [Fact]
    public async Task TwoTreeDiffOfIdenticalTreesIsEmpty()
    {
        using var dir = new TempDir();
        var lower = dir.Sub("lower");
        BuildLower(lower);
        var upper = Path.Combine(dir.Path, "upper");
        await TreeCopy.CopyAsync(lower, upper);
        var (result, blob) = await Tree.WriteLayer(new TreeDiffLayerSource(lower, upper));
        Assert.Empty(await Tree.ReadEntries(blob));
        Assert.Equal(1024, result.UncompressedSize);
        Assert.Equal(Encoding.ASCII.GetBytes(new string('\0', 1024)), blob);
    }
}
