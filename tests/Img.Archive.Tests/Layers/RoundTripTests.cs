using System.Text;
using Img.Archive.Layers;
using Img.Oci;
using Img.TestSupport;

namespace Img.Archive.Tests.Layers;

public class RoundTripTests
{
    private static readonly byte[] Capability = [0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];

    /// <summary>A tree with every kind of thing a layer carries.</summary>
    internal static void BuildRichTree(string root)
    {
        var uid = Tree.IsRoot ? 1234 : (int)Native.Lstat(root)!.Value.Uid;
        var gid = Tree.IsRoot ? 5678 : (int)Native.Lstat(root)!.Value.Gid;
        Tree.Write(root, "etc/hostname", "box\n");
        Tree.Write(root, "etc/empty", "");
        var suid = Tree.Write(root, "usr/bin/su do", "#!/bin/sh\n", mode: 0b100_111_101_101); // 04755
        Tree.Write(root, "usr/share/ünïcødé/日本語.txt", "unicode\n");
        var longName = new string('n', 200);
        Tree.Write(root, $"deep/{new string('d', 120)}/{longName}", "long path and long name\n");
        Tree.Write(root, "big.bin", Encoding.ASCII.GetString(CompressionTests.TextLike(3 << 20).Select(b => (byte)(b & 0x7f)).ToArray()));
        var hl = Tree.Write(root, "usr/bin/a", "hardlinked\n", mode: 0b111_101_101);
        File.CreateSymbolicLink(Path.Combine(root, "usr/bin/rel-link"), "a");
        File.CreateSymbolicLink(Path.Combine(root, "abs-dangling"), "/nowhere/at/all");
        Assert.Equal(0, Native.LinkAt(Native.AT_FDCWD, hl, Native.AT_FDCWD, Path.Combine(root, "usr/bin/b")));
        Tree.SetXattr(Path.Combine(root, "etc/hostname"), "user.note", "hello"u8.ToArray());
        Tree.SetXattr(Path.Combine(root, "etc/hostname"), "user.binary", [0, 0xff, 0x80, 1]);
        if (Tree.IsRoot)
        {
            Tree.SetXattr(Path.Combine(root, "usr/bin/a"), "security.capability", Capability);
            Assert.Equal(0, Native.LchownAt(Native.AT_FDCWD, Path.Combine(root, "etc/hostname"), (uint)uid, (uint)gid));
            Assert.Equal(0, Native.MknodAt(Native.AT_FDCWD, Path.Combine(root, "null"), Native.S_IFCHR | 0b110_110_110, Native.MakeDev(1, 3)));
            Tree.SetMtime(Path.Combine(root, "null"), 1_500_000_000);
            Assert.Equal(0, Native.ChmodAt(Native.AT_FDCWD, Path.Combine(root, "null"), 0b110_110_110));
        }
        Assert.Equal(0, Native.MknodAt(Native.AT_FDCWD, Path.Combine(root, "fifo"), Native.S_IFIFO | 0b110_100_000, 0));
        Assert.Equal(0, Native.ChmodAt(Native.AT_FDCWD, Path.Combine(root, "fifo"), 0b110_100_000));
        Tree.SetMtime(Path.Combine(root, "fifo"), 1_500_000_001);
        Directory.CreateDirectory(Path.Combine(root, "tmp"));
        Assert.Equal(0, Native.ChmodAt(Native.AT_FDCWD, Path.Combine(root, "tmp"), 0b1_111_111_111)); // 01777
        Directory.CreateDirectory(Path.Combine(root, "ro"));
        Tree.Write(root, "ro/inside", "x");
        Assert.Equal(0, Native.ChmodAt(Native.AT_FDCWD, Path.Combine(root, "ro"), 0b101_101_101)); // 0555: filled before it closes
        Assert.Equal(0, Native.ChmodAt(Native.AT_FDCWD, suid, 0b100_111_101_101));
        Assert.Equal(0, Native.UtimesAt(Native.AT_FDCWD, Path.Combine(root, "usr/bin/rel-link"), 1_400_000_000, 0));
        foreach (var d in Directory.EnumerateDirectories(root, "*", SearchOption.AllDirectories).Append(root))
            Tree.SetMtime(d, 1_300_000_000);
    }

    [Theory]
    [InlineData(Compression.None)]
    [InlineData(Compression.Gzip)]
    [InlineData(Compression.Zstd)]
    public async Task WrittenTreeAppliesBackIdentically(Compression compression)
    {
        using var dir = new TempDir();
        var src = dir.Sub("src");
        var dst = dir.Sub("dst");
        BuildRichTree(src);
        var (result, blob) = await Tree.WriteLayer(new DirectoryLayerSource(src), compression);
        Assert.Equal(Tree.Sha(blob), result.Digest);
        Assert.Equal(blob.Length, result.Size);
        var applied = await Tree.Apply(blob, dst);
        Assert.Equal(result.DiffId, applied.DiffId);
        Assert.Empty(applied.Warnings);
        Assert.Equal(Tree.Describe(src), Tree.Describe(dst));

        var entries = await Tree.ReadEntries(blob);
        Assert.Equal(TarEntryKind.HardLink, entries.Single(e => e.Name == "usr/bin/b").Kind);
        Assert.Equal("usr/bin/a", entries.Single(e => e.Name == "usr/bin/b").LinkName);
        Assert.DoesNotContain(entries, e => e.Name.Length == 0);
        // Parents before children, siblings in byte order.
        var seen = new HashSet<string>();
        foreach (var e in entries)
        {
            var slash = e.Name.LastIndexOf('/');
            if (slash > 0) Assert.Contains(e.Name[..slash], seen);
            seen.Add(e.Name);
        }
    }

    [Fact]
    public async Task SameTreeGivesTheSameDigestsAndClampMovesMtimes()
    {
        using var dir = new TempDir();
        var src = dir.Sub("src");
        BuildRichTree(src);
        var a = await LayerWriter.WriteTreeAsync(src, new MemoryStream(), Compression.Gzip);
        var b = await LayerWriter.WriteTreeAsync(src, new MemoryStream(), Compression.Gzip);
        Assert.Equal(a, b);

        var ms = new MemoryStream();
        var clamped = await LayerWriter.WriteTreeAsync(src, ms, Compression.None, new WriteOptions { ClampMtime = 1_350_000_000 });
        Assert.NotEqual(a.DiffId, clamped.DiffId);
        var entries = await Tree.ReadEntries(ms.ToArray());
        Assert.All(entries, e => Assert.True(e.MtimeSec <= 1_350_000_000));
        Assert.Contains(entries, e => e.MtimeSec == 1_300_000_000); // older stays
    }

    [Fact]
    public async Task GnuTarListsAndExtractsOurLayers()
    {
        using var dir = new TempDir();
        var src = dir.Sub("src");
        var dst = dir.Sub("dst");
        BuildRichTree(src);
        var layer = Path.Combine(dir.Path, "layer.tar");
        await using (var f = File.Create(layer))
            await LayerWriter.WriteTreeAsync(src, f, Compression.None);
        var list = (await ProcessRunner.RunAsync("tar", ["-tvf", layer])).EnsureSuccess("tar -tvf");
        Assert.Contains("usr/bin/b link to usr/bin/a", list.Stdout);
        Assert.Contains("deep/" + new string('d', 120) + "/" + new string('n', 200), list.Stdout);
        Assert.Contains("usr/share/ünïcødé/日本語.txt", list.Stdout);
        Assert.DoesNotContain("PaxHeaders", list.Stdout);
        Assert.Contains("tmp/", list.Stdout);

        (await ProcessRunner.RunAsync("tar", ["--xattrs", "--xattrs-include=*", "--same-owner", "-xpf", layer, "-C", dst])).EnsureSuccess("tar -x");
        Assert.Equal(Tree.Describe(src, withDirMtimes: false), Tree.Describe(dst, withDirMtimes: false));
    }

    [Theory]
    [InlineData("posix")]
    [InlineData("gnu")]
    public async Task LayersMadeByGnuTarApply(string format)
    {
        using var dir = new TempDir();
        var src = dir.Sub("src");
        var dst = dir.Sub("dst");
        BuildRichTree(src);
        var layer = Path.Combine(dir.Path, "gnu.tar.gz");
        (await ProcessRunner.RunAsync("tar", [$"--format={format}", "--xattrs", "--xattrs-include=*", "--numeric-owner", "-czf", layer, "-C", src, "."])).EnsureSuccess("tar -c");
        var applied = await LayerApplier.ApplyFileAsync(layer, dst);
        Assert.Empty(applied.Warnings);
        // GNU tar writes the root as "./": its metadata is the caller's, so compare what is below it.
        Assert.Equal(Tree.Describe(src), Tree.Describe(dst));
    }

    [Fact]
    public async Task TreeCopyPreservesEverything()
    {
        using var dir = new TempDir();
        var src = dir.Sub("src");
        BuildRichTree(src);
        Tree.SetMtime(Path.Combine(src, "etc/hostname"), 1_600_000_000, 123_456_789);
        var dst = Path.Combine(dir.Path, "dst");
        var r = await TreeCopy.CopyAsync(src, dst);
        Assert.Empty(r.Warnings);
        Assert.Equal(r.Files, r.Reflinked + r.CopyFileRange + r.Streamed + 1); // the empty file moves no data
        Assert.Equal(Tree.Describe(src, withNsec: true), Tree.Describe(dst, withNsec: true));
    }
}
