using Img.Runtime.Snapshots;
using Img.TestSupport;

namespace Img.Runtime.Tests;

public sealed class SnapshotterTests : IDisposable
{
    private readonly string _state = Directory.CreateTempSubdirectory("img-snap").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_state, recursive: true); } catch (IOException) { }
    }

    [Theory]
    [InlineData("auto")]
    [InlineData("native")]
    [InlineData("overlayfs")]
    [InlineData("fuse-overlayfs")]
    public void Backend_names_are_accepted(string name) => Assert.Equal(name, BackendChoice.Parse(name).ToString());

    [Fact]
    public void Invalid_backend_is_the_originals_error()
    {
        var e = Assert.Throws<ArgumentException>(() => BackendChoice.Parse("zfs"));
        Assert.Equal("zfs is not a valid snapshots backend", e.Message);
    }

    [Fact]
    public void Explicit_backend_skips_probing() => Assert.Same(SnapshotterKind.Native, Snapshotters.Resolve(BackendChoice.Parse("native"), "/nonexistent/state"));

    [Fact]
    public void Store_directories_name_their_kind()
    {
        foreach (var kind in SnapshotterKind.All)
        {
            Assert.Same(kind, SnapshotterKind.FromName(kind.Name));
            var store = kind.Open(_state);
            Assert.Same(kind, store.Kind);
            Assert.Equal(Path.Combine(_state, "snapshots", kind.Name), store.Root);
        }
        Assert.Null(SnapshotterKind.FromName("zfs"));
    }

    [Fact]
    public async Task Native_snapshots_copy_the_parent_and_commit_into_a_chain()
    {
        var s = SnapshotterKind.Native.Open(_state);
        await s.PrepareAsync("a", null);
        var aDir = s.FsDir("a");
        File.WriteAllText(Path.Combine(aDir, "file"), "one");
        Directory.CreateDirectory(Path.Combine(aDir, "dir"));
        File.CreateSymbolicLink(Path.Combine(aDir, "link"), "file");
        await s.CommitAsync("A", "a");
        Assert.Null(s.Stat("a"));
        Assert.Equal(SnapshotKind.Committed, s.Stat("A")!.Kind);

        var mounts = await s.PrepareAsync("b", "A");
        var bDir = s.FsDir("b");
        Assert.Equal("one", File.ReadAllText(Path.Combine(bDir, "file")));
        Assert.Equal("file", new FileInfo(Path.Combine(bDir, "link")).LinkTarget);
        Assert.Equal([new Mount("bind", bDir, ["rbind", "rw"])], mounts, MountComparer.Instance);
        Assert.Null(s.UpperDir("b"));
        Assert.Equal(3, s.Usage("b"));

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => s.RemoveAsync("A"));
        Assert.Contains("parent of b", e.Message);
        await s.CommitAsync("B", "b");
        var view = await s.ViewAsync("v", "B");
        Assert.Equal([new Mount("bind", s.FsDir("B"), ["rbind", "ro"])], view, MountComparer.Instance);
        await s.RemoveAsync("v");
        await s.RemoveAsync("B");
        await s.RemoveAsync("A");
        Assert.Empty(s.List());
        Assert.Empty(Directory.GetDirectories(Path.Combine(_state, "snapshots", "native", "snapshots")));
    }

    [Fact]
    public async Task Table_survives_reopening()
    {
        var s = SnapshotterKind.Overlay.Open(_state);
        await s.PrepareAsync("x", null);
        await s.CommitAsync("X", "x");
        await s.PrepareAsync("y", "X");
        var reopened = SnapshotterKind.Overlay.Open(_state);
        Assert.Equal(["X", "y"], reopened.List().Select(i => i.Key).Order());
        Assert.Equal("X", reopened.Stat("y")!.Parent);
        await Assert.ThrowsAsync<InvalidOperationException>(() => reopened.PrepareAsync("y", "X"));
        await Assert.ThrowsAsync<SnapshotNotFoundException>(() => reopened.PrepareAsync("z", "nope"));
    }

    [Fact]
    public async Task Overlay_stacks_parents_nearest_first()
    {
        var s = SnapshotterKind.Overlay.Open(_state);
        string? parent = null;
        foreach (var n in new[] { "l1", "l2", "l3" })
        {
            await s.PrepareAsync(n + "-active", parent);
            await s.CommitAsync(n, n + "-active");
            parent = n;
        }
        var m = Assert.Single(await s.PrepareAsync("top", "l3"));
        Assert.Equal("overlay", m.Type);
        Assert.Contains($"lowerdir={s.FsDir("l3")}:{s.FsDir("l2")}:{s.FsDir("l1")}", m.Options);
        Assert.Contains($"upperdir={s.FsDir("top")}", m.Options);
        Assert.Equal(s.FsDir("top"), s.UpperDir("top"));
        Assert.Null(m.WorkingDirectory);
        var single = Assert.Single(await s.ViewAsync("v1", "l1"));
        Assert.Equal(new Mount("bind", s.FsDir("l1"), ["rbind", "ro"]), single, MountComparer.Instance);
    }

    [Fact]
    public async Task Long_overlay_chains_use_relative_lowerdirs_and_really_mount()
    {
        var s = SnapshotterKind.Overlay.Open(_state);
        string? parent = null;
        for (int i = 0; i < 150; i++)
        {
            await s.PrepareAsync($"a{i}", parent);
            File.WriteAllText(Path.Combine(s.FsDir($"a{i}"), $"f{i}"), i.ToString());
            await s.CommitAsync($"c{i}", $"a{i}");
            parent = $"c{i}";
        }
        var m = Assert.Single(await s.PrepareAsync("top", parent));
        Assert.NotNull(m.WorkingDirectory);
        Assert.True(string.Join(',', m.Options).Length < 4000);
        if (!TestUser.RunningAsRoot) return;
        var target = Directory.CreateTempSubdirectory("img-mnt").FullName;
        s.Mount("top", target);
        try
        {
            Assert.Equal("0", File.ReadAllText(Path.Combine(target, "f0")));
            Assert.Equal("149", File.ReadAllText(Path.Combine(target, "f149")));
            File.WriteAllText(Path.Combine(target, "new"), "x");
        }
        finally
        {
            s.Unmount(target);
            Directory.Delete(target);
        }
        Assert.True(File.Exists(Path.Combine(s.UpperDir("top")!, "new")));
    }

    private sealed class MountComparer : IEqualityComparer<Mount>
    {
        public static readonly MountComparer Instance = new();
        public bool Equals(Mount? x, Mount? y) => x is not null && y is not null && x.Type == y.Type && x.Source == y.Source &&
            x.Options.SequenceEqual(y.Options) && x.WorkingDirectory == y.WorkingDirectory;
        public int GetHashCode(Mount obj) => obj.Type.GetHashCode();
    }
}
