using System.Text;
using Img.Archive.Layers;

namespace Img.Archive.Tests.Layers;

/// <summary>Layers that try to write outside the root, or to exhaust the disk. Each runs with openat2 and with the portable walk.</summary>
public class HostileLayerTests
{
    public static TheoryData<bool> Resolvers => new() { true, false };

    /// <summary>A sandbox: root/ is where layers go; everything else in the sandbox must stay untouched.</summary>
    private sealed class Sandbox : IDisposable
    {
        private readonly TempDir _dir = new();
        public Sandbox()
        {
            Root = Path.Combine(_dir.Path, "a", "b", "root");
            Directory.CreateDirectory(Root);
        }
        public string Root { get; }
        public string Outside => _dir.Path;
        public string[] OutsideFiles() => Directory.GetFileSystemEntries(_dir.Path, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint })
            .Where(p => !p.StartsWith(Root, StringComparison.Ordinal) && !Root.StartsWith(p, StringComparison.Ordinal)).ToArray();
        public void Dispose() => _dir.Dispose();
    }

    private static ApplyOptions Opts(bool openat2) => new() { UseOpenat2 = openat2 };

    [Theory]
    [MemberData(nameof(Resolvers))]
    public async Task DotDotThatClimbsOutIsRefused(bool openat2)
    {
        using var box = new Sandbox();
        var layer = await Tree.BuildTar(Tree.File("../../x", "pwned"));
        var ex = await Assert.ThrowsAsync<LayerSecurityException>(() => Tree.Apply(layer, box.Root, Opts(openat2)));
        Assert.Contains("climbs out", ex.Message);
        Assert.Empty(box.OutsideFiles());
        // ".." that stays inside is only a path.
        await Tree.Apply(await Tree.BuildTar(Tree.File("a/../b", "fine")), box.Root, Opts(openat2));
        Assert.True(File.Exists(Path.Combine(box.Root, "b")));
    }

    [Theory]
    [MemberData(nameof(Resolvers))]
    public async Task AbsoluteNamesLandInsideTheRoot(bool openat2)
    {
        using var box = new Sandbox();
        var name = $"img-layer-test-{Guid.NewGuid():N}";
        try
        {
            await Tree.Apply(await Tree.BuildTar(Tree.File("/tmp/" + name, "contained")), box.Root, Opts(openat2));
            Assert.False(File.Exists("/tmp/" + name));
            Assert.Equal("contained", File.ReadAllText(Path.Combine(box.Root, "tmp", name)));
        }
        finally { File.Delete("/tmp/" + name); }
    }

    [Theory]
    [MemberData(nameof(Resolvers))]
    public async Task SymlinkToRootInTheSameLayerIsFollowedOnlyInside(bool openat2)
    {
        using var box = new Sandbox();
        var name = $"img-layer-test-{Guid.NewGuid():N}";
        try
        {
            var layer = await Tree.BuildTar(Tree.Symlink("evil", "/"), Tree.File($"evil/tmp/{name}", "contained"),
                Tree.Symlink("up", "../../../.."), Tree.File("up/escaped", "contained"));
            await Tree.Apply(layer, box.Root, Opts(openat2));
            Assert.False(File.Exists("/tmp/" + name));
            Assert.True(File.Exists(Path.Combine(box.Root, "tmp", name)));
            Assert.True(File.Exists(Path.Combine(box.Root, "escaped")));
            Assert.Empty(box.OutsideFiles());
        }
        finally { File.Delete("/tmp/" + name); }
    }

    [Theory]
    [MemberData(nameof(Resolvers))]
    public async Task SymlinkPlantedByAnEarlierLayerIsContained(bool openat2)
    {
        using var box = new Sandbox();
        await Tree.Apply(await Tree.BuildTar(Tree.Symlink("planted", "../../.."), Tree.Symlink("abs", "/")), box.Root, Opts(openat2));
        await Tree.Apply(await Tree.BuildTar(Tree.File("planted/through", "x"), Tree.File("abs/also", "y"), Tree.Dir("planted/newdir")), box.Root, Opts(openat2));
        Assert.Empty(box.OutsideFiles());
        Assert.True(File.Exists(Path.Combine(box.Root, "through")));
        Assert.True(File.Exists(Path.Combine(box.Root, "also")));
        Assert.True(Directory.Exists(Path.Combine(box.Root, "newdir")));
    }

    [Theory]
    [MemberData(nameof(Resolvers))]
    public async Task FinalSymlinkIsReplacedNotFollowed(bool openat2)
    {
        using var box = new Sandbox();
        var victim = Path.Combine(box.Outside, "victim");
        File.WriteAllText(victim, "original");
        await Tree.Apply(await Tree.BuildTar(Tree.Symlink("link", victim)), box.Root, Opts(openat2));
        await Tree.Apply(await Tree.BuildTar(Tree.File("link", "overwritten?")), box.Root, Opts(openat2));
        Assert.Equal("original", File.ReadAllText(victim));
        Assert.Equal("overwritten?", File.ReadAllText(Path.Combine(box.Root, "link")));
        Assert.False(Native.Lstat(Path.Combine(box.Root, "link"))!.Value.IsSymlink);
    }

    [Theory]
    [MemberData(nameof(Resolvers))]
    public async Task HardLinksMustResolveInsideTheRoot(bool openat2)
    {
        using var box = new Sandbox();
        var ex = await Assert.ThrowsAsync<LayerSecurityException>(() => Tree.Apply(Tree.BuildTar(Tree.HardLink("x", "../../x")).Result, box.Root, Opts(openat2)));
        Assert.Contains("climbs out", ex.Message);
        // "/etc/passwd" means the root's own etc/passwd: absent here, so an error, never the host's.
        var missing = await Assert.ThrowsAsync<LayerFormatException>(() => Tree.Apply(Tree.BuildTar(Tree.HardLink("pw", "/etc/passwd")).Result, box.Root, Opts(openat2)));
        Assert.Contains("does not exist", missing.Message);
        // Through a symlinked parent pointing at "/": still the root's file.
        await Tree.Apply(await Tree.BuildTar(Tree.Dir("etc"), Tree.File("etc/passwd", "root's own"), Tree.Symlink("sys", "/"), Tree.HardLink("pw", "sys/etc/passwd")), box.Root, Opts(openat2));
        Assert.Equal(Native.Lstat(Path.Combine(box.Root, "etc/passwd"))!.Value.Ino, Native.Lstat(Path.Combine(box.Root, "pw"))!.Value.Ino);
        Assert.NotEqual(Native.Lstat("/etc/passwd")!.Value.Ino, Native.Lstat(Path.Combine(box.Root, "pw"))!.Value.Ino);
    }

    /// <summary>A ustar header whose size field claims <paramref name="size"/> bytes (base-256 when over 8 GiB).</summary>
    private static byte[] RawFileHeader(string name, long size)
    {
        var b = new byte[512];
        Encoding.ASCII.GetBytes(name).CopyTo(b, 0);
        Encoding.ASCII.GetBytes("0000644\0").CopyTo(b, 100);
        Encoding.ASCII.GetBytes("0000000\0").CopyTo(b, 108);
        Encoding.ASCII.GetBytes("0000000\0").CopyTo(b, 116);
        b[124] = 0x80;
        for (var i = 0; i < 8; i++) b[135 - i] = (byte)(size >> (8 * i));
        Encoding.ASCII.GetBytes("00000000000\0").CopyTo(b, 136);
        b[156] = (byte)'0';
        Encoding.ASCII.GetBytes("ustar\0" + "00").CopyTo(b, 257);
        for (var i = 148; i < 156; i++) b[i] = (byte)' ';
        var sum = b.Sum(x => (long)x);
        Encoding.ASCII.GetBytes(Convert.ToString(sum, 8).PadLeft(6, '0') + "\0 ").CopyTo(b, 148);
        return b;
    }

    [Fact]
    public async Task TerabyteDeclaredSizeIsRefusedBeforeWriting()
    {
        using var box = new Sandbox();
        var layer = RawFileHeader("huge", 1L << 40).Concat(new byte[4096]).ToArray();
        var ex = await Assert.ThrowsAsync<LayerSecurityException>(() => Tree.Apply(layer, box.Root, new ApplyOptions { MaxTotalBytes = 1L << 30 }));
        Assert.Contains("1099511627776", ex.Message);
        Assert.False(File.Exists(Path.Combine(box.Root, "huge")));
        // Without a bound the short stream is still a clear error, not a hang or a 1 TB file.
        await Assert.ThrowsAsync<LayerFormatException>(() => Tree.Apply(layer, box.Root));
    }

    [Fact]
    public async Task ManySmallFilesPastTheBudgetAreRefused()
    {
        using var box = new Sandbox();
        var entries = Enumerable.Range(0, 50).Select(i => Tree.File($"f{i}", new string('z', 10_000))).ToArray();
        var layer = await Tree.BuildTar(entries);
        var ex = await Assert.ThrowsAsync<LayerSecurityException>(() => Tree.Apply(layer, box.Root, new ApplyOptions { MaxTotalBytes = 100_000 }));
        Assert.Contains("100000", ex.Message);
        Assert.True(Directory.GetFiles(box.Root).Length <= 10);
        var ok = await Tree.Apply(layer, box.Root, new ApplyOptions { MaxTotalBytes = 500_000 });
        Assert.Equal(500_000, ok.Bytes);
        var many = await Assert.ThrowsAsync<LayerSecurityException>(() => Tree.Apply(layer, box.Root, new ApplyOptions { MaxEntries = 20 }));
        Assert.Contains("20 entries", many.Message);
    }

    [Fact]
    public async Task OverLongNamesAreRefusedClearly()
    {
        using var box = new Sandbox();
        var longPath = string.Join('/', Enumerable.Repeat(new string('p', 100), 50)); // 5049 bytes
        var ex = await Assert.ThrowsAsync<LayerSecurityException>(() => Tree.Apply(Tree.BuildTar(Tree.File(longPath, "x")).Result, box.Root));
        Assert.Contains("PATH_MAX", ex.Message);
        var longComponent = await Assert.ThrowsAsync<LayerSecurityException>(() => Tree.Apply(Tree.BuildTar(Tree.File("d/" + new string('c', 300), "x")).Result, box.Root));
        Assert.Contains("NAME_MAX", longComponent.Message);
    }

    [Fact]
    public async Task DeviceNodesAreSkippedWithAWarningWhereForbidden()
    {
        using var box = new Sandbox();
        var dev = new TarHeader { Name = "dev/null", Kind = TarEntryKind.CharDevice, Mode = 0b110_110_110, DevMajor = 1, DevMinor = 3 };
        var fifo = new TarHeader { Name = "dev/fifo", Kind = TarEntryKind.Fifo, Mode = 0b110_100_100 };
        var layer = await Tree.BuildTar((dev, null), (fifo, null));
        var warnings = new List<string>();
        var r = await Tree.Apply(layer, box.Root, new ApplyOptions { DevicesForbidden = true, Warn = warnings.Add });
        Assert.False(File.Exists(Path.Combine(box.Root, "dev/null")));
        Assert.Contains(r.Warnings, w => w.Contains("dev/null"));
        Assert.Equal(r.Warnings, warnings);
        Assert.Equal(Native.S_IFIFO, Native.Lstat(Path.Combine(box.Root, "dev/fifo"))!.Value.Type); // fifos need no privilege
        await Assert.ThrowsAsync<NativeException>(() => Tree.Apply(layer, box.Root, new ApplyOptions { DevicesForbidden = true, SkipForbiddenDevices = false }));
        if (Tree.IsRoot)
        {
            await Tree.Apply(layer, box.Root);
            var st = Native.Lstat(Path.Combine(box.Root, "dev/null"))!.Value;
            Assert.Equal((Native.S_IFCHR, 1u, 3u), (st.Type, st.RdevMajor, st.RdevMinor));
        }
    }

    [Fact]
    public async Task SetuidSetgidAndStickyArePreservedAndSparseIsRefused()
    {
        using var box = new Sandbox();
        var layer = await Tree.BuildTar(Tree.File("bin/suid", "x", 0b100_111_101_101), Tree.Dir("shared", 0b10_111_111_101), Tree.Dir("tmp", 0b1_111_111_111));
        await Tree.Apply(layer, box.Root);
        Assert.Equal(0b100_111_101_101u, Native.Lstat(Path.Combine(box.Root, "bin/suid"))!.Value.Permissions);
        Assert.Equal(0b10_111_111_101u, Native.Lstat(Path.Combine(box.Root, "shared"))!.Value.Permissions);
        Assert.Equal(0b1_111_111_111u, Native.Lstat(Path.Combine(box.Root, "tmp"))!.Value.Permissions);

        var sparse = RawFileHeader("sparse", 0);
        sparse[156] = (byte)'S';
        for (var i = 148; i < 156; i++) sparse[i] = (byte)' ';
        var sum = sparse.Sum(x => (long)x);
        Encoding.ASCII.GetBytes(Convert.ToString(sum, 8).PadLeft(6, '0') + "\0 ").CopyTo(sparse, 148);
        var ex = await Assert.ThrowsAsync<LayerFormatException>(() => Tree.Apply(sparse.Concat(new byte[1024]).ToArray(), box.Root));
        Assert.Contains("sparse", ex.Message);
    }

    [Fact]
    public async Task InvalidUtf8NamesAreAppliedWithReplacementAndAWarning()
    {
        using var box = new Sandbox();
        var header = RawFileHeader("x", 0);
        header[0] = (byte)'b';
        header[1] = 0xff; // not UTF-8
        header[2] = (byte)'d';
        header[124] = (byte)'0'; // size 0 in octal
        for (var i = 125; i < 136; i++) header[i] = i == 135 ? (byte)0 : (byte)'0';
        for (var i = 148; i < 156; i++) header[i] = (byte)' ';
        var sum = header.Sum(x => (long)x);
        Encoding.ASCII.GetBytes(Convert.ToString(sum, 8).PadLeft(6, '0') + "\0 ").CopyTo(header, 148);
        var r = await Tree.Apply(header.Concat(new byte[1024]).ToArray(), box.Root);
        Assert.Contains(r.Warnings, w => w.Contains("UTF-8"));
        Assert.True(File.Exists(Path.Combine(box.Root, "b\uFFFDd")));
    }

    [Fact]
    public async Task ForeignOwnershipIsSetWhenPermittedAndSkippedWithAWarningWhenNot()
    {
        using var box = new Sandbox();
        var file = Tree.File("owned", "x");
        file.Item1.Uid = 4242;
        file.Item1.Gid = 4343;
        var dir = Tree.Dir("ownedDir");
        dir.Item1.Uid = 4242;
        var layer = await Tree.BuildTar(file, dir);
        var me = Native.Lstat(box.Root)!.Value;
        if (Tree.IsRoot)
        {
            var r = await Tree.Apply(layer, box.Root);
            Assert.Empty(r.Warnings);
            Assert.Equal((4242u, 4343u), (Native.Lstat(Path.Combine(box.Root, "owned"))!.Value.Uid, Native.Lstat(Path.Combine(box.Root, "owned"))!.Value.Gid));
        }
        else
        {
            // An ordinary user cannot give files away: the same EPERM a user namespace gives for unmapped ids.
            var r = await Tree.Apply(layer, box.Root);
            Assert.Contains(r.Warnings, w => w.Contains("4242:4343") && w.Contains("owned"));
            Assert.Equal(me.Uid, Native.Lstat(Path.Combine(box.Root, "owned"))!.Value.Uid);
            await Assert.ThrowsAsync<NativeException>(() => Tree.Apply(layer, box.Root, new ApplyOptions { SkipUnmappedOwnership = false }));
        }
        var ignored = await Tree.Apply(layer, box.Root, new ApplyOptions { PreserveOwnership = false });
        Assert.Empty(ignored.Warnings);
        Assert.Equal(me.Uid, Native.Lstat(Path.Combine(box.Root, "owned"))!.Value.Uid);
    }

    [Fact]
    public void Openat2ResolvesInRootOnThisKernel()
    {
        using var box = new Sandbox();
        File.CreateSymbolicLink(Path.Combine(box.Root, "abs"), "/");
        Directory.CreateDirectory(Path.Combine(box.Root, "inside"));
        using var root = new RootedDirectory(box.Root);
        var fd = Native.OpenInRoot(root.RootFd, "abs/inside", Native.O_PATH | Native.O_DIRECTORY);
        if (fd == -Native.ENOSYS) return; // kernel before 5.6: the walk is the resolver, tested above
        Assert.True(fd >= 0, $"openat2 failed: {-fd}");
        Native.Close(fd);
        Assert.Equal(-Native.ENOENT, Native.OpenInRoot(root.RootFd, "abs/tmp", Native.O_PATH | Native.O_DIRECTORY));
    }

    [Fact]
    public async Task GarbageIsAClearFormatError()
    {
        using var box = new Sandbox();
        var ex = await Assert.ThrowsAsync<LayerFormatException>(() => Tree.Apply(CompressionTests.TextLike(4096), box.Root));
        Assert.Contains("checksum", ex.Message);
    }

    [Theory]
    [MemberData(nameof(Resolvers))]
    public async Task AnOwnerOverrideOwnsTheEntriesAsTheyAreMadeAndNeverFollowsAPlantedLink(bool openat2)
    {
        // ADD --chown of a local tar that plants esc -> outside, then esc/file: the entry lands inside the root,
        // and no pass over the tree afterwards chowns what the link points at. Owning files as 1234 needs CAP_CHOWN.
        Assert.True(Tree.IsRoot, "run as root (as tools/test.sh does): the entries are chowned to 1234");
        using var box = new Sandbox();
        var outside = Path.Combine(box.Outside, "victim");
        Directory.CreateDirectory(outside);
        File.WriteAllText(Path.Combine(outside, "file"), "precious");
        var before = Native.Lstat(Path.Combine(outside, "file"))!.Value;
        // The outside path exists inside the root too, so the link resolves (inside) and extraction goes on.
        var parts = outside.Trim('/').Split('/');
        var mirror = Enumerable.Range(1, parts.Length).Select(n => Tree.Dir(string.Join('/', parts.Take(n))));
        var layer = await Tree.BuildTar([.. mirror, Tree.Symlink("esc", outside), Tree.File("esc/file", "new"), Tree.Dir("d"), Tree.File("d/f", "x", 0b1111_101_101)]);
        await Tree.Apply(layer, box.Root, new ApplyOptions { UseOpenat2 = openat2, Owner = (1234, 1234), SkipUnmappedOwnership = false });

        var after = Native.Lstat(Path.Combine(outside, "file"))!.Value;
        Assert.Equal((before.Uid, before.Gid, before.Mode, before.MtimeSec), (after.Uid, after.Gid, after.Mode, after.MtimeSec));
        Assert.Equal("precious", File.ReadAllText(Path.Combine(outside, "file")));
        Assert.Equal("new", File.ReadAllText(Path.Combine(box.Root, box.Outside.TrimStart('/'), "victim", "file")));
        foreach (var rel in new[] { "esc", "d", "d/f" })
            Assert.Equal((1234u, 1234u), (Native.Lstat(Path.Combine(box.Root, rel))!.Value.Uid, Native.Lstat(Path.Combine(box.Root, rel))!.Value.Gid));
        Assert.Equal(0b1111_101_101u, Native.Lstat(Path.Combine(box.Root, "d", "f"))!.Value.Permissions); // setuid set after chown
    }
}
