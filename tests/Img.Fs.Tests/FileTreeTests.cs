using Img.TestSupport;

namespace Img.Fs.Tests;

public sealed class FileTreeTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("img-filetree").FullName;
    private readonly Canary _canary = Canary.Create("img-filetree-canary");

    public void Dispose()
    {
        _canary.Dispose();
        if (Directory.Exists(_work)) Directory.Delete(_work, recursive: true);
    }

    private string Tree(string name)
    {
        var t = Path.Combine(_work, name);
        Directory.CreateDirectory(Path.Combine(t, "d", "a"));
        File.WriteAllText(Path.Combine(t, "d", "a", "f"), "x");
        return t;
    }

    [Fact]
    public void Removal_unlinks_links_out_of_the_tree_and_never_walks_or_chmods_through_them()
    {
        var t = Tree("t");
        File.CreateSymbolicLink(Path.Combine(t, "to-canary"), _canary.Root);
        File.CreateSymbolicLink(Path.Combine(t, "d", "to-root"), "/");
        File.CreateSymbolicLink(Path.Combine(t, "d", "a", "to-locked"), Path.Combine(_canary.Root, "locked"));
        // A read-only directory inside is emptied: modes change on the tree's own directories only.
        File.SetUnixFileMode(Path.Combine(t, "d", "a"), UnixFileMode.UserRead | UnixFileMode.UserExecute);

        FileTree.RemoveTree(t);

        Assert.False(Path.Exists(t));
        _canary.AssertUntouched();
    }

    [Fact]
    public void Link_loops_are_just_links()
    {
        var t = Tree("loops");
        File.CreateSymbolicLink(Path.Combine(t, "d", "loop"), ".");
        File.CreateSymbolicLink(Path.Combine(t, "d", "a", "up"), "..");
        File.CreateSymbolicLink(Path.Combine(t, "self"), "self");
        FileTree.RemoveTree(t);
        Assert.False(Path.Exists(t));
    }

    [Fact]
    public void A_name_that_is_not_utf8_is_removed()
    {
        var t = Tree("bytes");
        var dirFd = Native.OpenAt(Native.AT_FDCWD, t, Native.O_PATH | Native.O_DIRECTORY);
        try
        {
            byte[] name = [(byte)'b', 0xff, 0xfe, (byte)'d'];
            var fd = Native.OpenAt(dirFd, name, Native.O_WRONLY | Native.O_CREAT);
            Assert.True(fd >= 0, $"creating the file failed: {-fd}");
            Native.Close(fd);
            Assert.Contains(Native.ReadDir(dirFd, t), n => n.AsSpan().SequenceEqual(name));
        }
        finally { Native.Close(dirFd); }
        FileTree.RemoveTree(t);
        Assert.False(Path.Exists(t));
    }

    [Fact]
    public void A_tree_deeper_than_the_held_descriptors_is_removed()
    {
        var t = Path.Combine(_work, "deep");
        Directory.CreateDirectory(t);
        // Built relative to each level's descriptor: the whole path is longer than PATH_MAX.
        var fd = Native.OpenAt(Native.AT_FDCWD, t, Native.O_PATH | Native.O_DIRECTORY);
        var depth = FileTree.HeldDescriptors * 5;
        for (var i = 0; i < depth; i++)
        {
            var name = new string('n', 40);
            Assert.Equal(0, Native.MkdirAt(fd, name, 0b111_101_101));
            var next = Native.OpenAt(fd, name, Native.O_PATH | Native.O_DIRECTORY);
            Native.Close(fd);
            fd = next;
        }
        Native.Close(fd);
        FileTree.RemoveTree(t);
        Assert.False(Path.Exists(t));
    }

    [Fact]
    public void Usage_counts_regular_files_below_and_nothing_behind_a_link()
    {
        var t = Tree("usage");
        File.WriteAllBytes(Path.Combine(t, "big"), new byte[1000]);
        File.CreateSymbolicLink(Path.Combine(t, "outside"), "/usr");
        Assert.Equal(1001, FileTree.Usage(t));
    }

    [Fact]
    public void OpenBeneath_refuses_every_link_on_the_way()
    {
        var t = Tree("beneath");
        File.CreateSymbolicLink(Path.Combine(t, "l"), "d");
        var root = Native.OpenAt(Native.AT_FDCWD, t, Native.O_PATH | Native.O_DIRECTORY);
        try
        {
            var ok = FileTree.OpenBeneath(root, "d/a");
            Assert.True(ok >= 0);
            Native.Close(ok);
            Assert.Equal(-Native.ENOTDIR, FileTree.OpenBeneath(root, "l/a")); // O_NOFOLLOW|O_DIRECTORY on a link
            Assert.Equal(-Native.ELOOP, FileTree.OpenBeneath(root, "d/../d"));
            Assert.Equal(-Native.ENOENT, FileTree.OpenBeneath(root, "d/missing"));
        }
        finally { Native.Close(root); }
    }

    [Fact]
    public void RemoveChildren_selects_by_name()
    {
        var t = Tree("children");
        File.WriteAllText(Path.Combine(t, "keep"), "");
        var fd = Native.OpenAt(Native.AT_FDCWD, t, Native.O_PATH | Native.O_DIRECTORY);
        try { FileTree.RemoveChildren(fd, t, n => n != "keep"); }
        finally { Native.Close(fd); }
        Assert.Equal(["keep"], Directory.EnumerateFileSystemEntries(t).Select(Path.GetFileName));
    }
}
