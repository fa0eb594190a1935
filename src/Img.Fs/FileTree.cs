using System.Text;

namespace Img.Fs;

/// <summary>
/// Walks, measures and removes trees that a build shaped (snapshots, bundles, staging copies) without ever following
/// a symlink: every directory is opened O_NOFOLLOW relative to its parent's descriptor, entries are named by the raw
/// bytes the kernel returns (a name that is not UTF-8 is still removed), modes are changed on the descriptor itself,
/// and the walk never leaves the tree — a link to "/" or a loop of links is just a link to unlink.
/// Depth costs no recursion and at most <see cref="HeldDescriptors"/> open descriptors: deeper directories are reached
/// again through their child's "..", which cannot be a symlink.
/// </summary>
public static class FileTree
{
    /// <summary>How many ancestors' descriptors stay open while a deep tree is walked.</summary>
    public const int HeldDescriptors = 64;

    private const int OpenDirFlags = Native.O_PATH | Native.O_DIRECTORY | Native.O_NOFOLLOW;

    /// <summary>Removes <paramref name="path"/> and everything below it; its parent directories are trusted (img's own).</summary>
    public static void RemoveTree(string path)
    {
        path = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        var parent = Native.OpenAt(Native.AT_FDCWD, Path.GetDirectoryName(path) ?? "/", Native.O_PATH | Native.O_DIRECTORY);
        if (parent == -Native.ENOENT) return;
        if (parent < 0) throw new NativeException("open directory", Path.GetDirectoryName(path) ?? "/", -parent);
        try { RemoveAll(parent, Encoding.UTF8.GetBytes(Path.GetFileName(path)), path); }
        finally { Native.Close(parent); }
    }

    /// <summary>Removes <paramref name="name"/> under the directory open as <paramref name="parentFd"/>, and everything below it.</summary>
    public static void RemoveAll(int parentFd, ReadOnlySpan<byte> name, string display)
    {
        var st = Native.StatAt(parentFd, name, display);
        if (st is null) return;
        if (st.Value.IsDir)
        {
            var fd = OpenChildDir(parentFd, name, display);
            Walk(fd, display, (dirFd, child, childSt, where) =>
            {
                var r = Native.UnlinkAt(dirFd, child, childSt.IsDir);
                if (r < 0 && r != -Native.ENOENT) throw new NativeException("remove", where, -r);
            }, makeWritable: true);
        }
        var rr = Native.UnlinkAt(parentFd, name, st.Value.IsDir);
        if (rr < 0 && rr != -Native.ENOENT) throw new NativeException("remove", display, -rr);
    }

    /// <summary>Removes <paramref name="name"/> (a UTF-8 name) under <paramref name="parentFd"/>, and everything below it.</summary>
    public static void RemoveAll(int parentFd, string name, string display) => RemoveAll(parentFd, Encoding.UTF8.GetBytes(name), display);

    /// <summary>Removes the children of the directory open as <paramref name="dirFd"/> that <paramref name="remove"/> selects (by UTF-8 name).</summary>
    public static void RemoveChildren(int dirFd, string display, Func<string, bool> remove)
    {
        foreach (var child in Native.ReadDir(dirFd, display))
        {
            var name = Encoding.UTF8.GetString(child);
            if (remove(name)) RemoveAll(dirFd, child, display + "/" + name);
        }
    }

    /// <summary>The names in the directory open as <paramref name="dirFd"/>, decoded as UTF-8.</summary>
    public static List<string> ListNames(int dirFd, string display = "directory") =>
        Native.ReadDir(dirFd, display).Select(n => Encoding.UTF8.GetString(n)).ToList();

    /// <summary>Bytes held by the regular files below <paramref name="dir"/>, links not followed; 0 when it does not exist.</summary>
    public static long Usage(string dir)
    {
        var fd = Native.OpenAt(Native.AT_FDCWD, dir, OpenDirFlags);
        if (fd < 0) return 0;
        long total = 0;
        Walk(fd, dir, (_, _, st, _) => { if (st.IsRegular) total += st.Size; }, makeWritable: false);
        return total;
    }

    /// <summary>
    /// Visits every entry below the directory open as <paramref name="rootFd"/> (which the walk closes), children
    /// before their directory: <paramref name="visit"/> gets the parent's descriptor, the entry's raw name, its lstat
    /// and a display path. With <paramref name="makeWritable"/>, a directory lacking u+rwx gets it (through its own
    /// descriptor) before it is listed, so a RUN step's read-only directories can be emptied.
    /// </summary>
    public static void Walk(int rootFd, string display, Action<int, byte[], FileStat, string> visit, bool makeWritable)
    {
        var stack = new List<Frame> { new(rootFd, [], display) };
        try
        {
            var rootSt = Native.StatAt(rootFd, ReadOnlySpan<byte>.Empty, display) ?? throw new DirectoryNotFoundException(display);
            var rootDev = (Major: rootSt.DevMajor, Minor: rootSt.DevMinor);
            Prepare(stack[0], makeWritable);
            while (stack.Count > 0)
            {
                var top = stack[^1];
                if (top.Index < top.Names.Count)
                {
                    var name = top.Names[top.Index++];
                    var where = top.Display + "/" + Encoding.UTF8.GetString(name);
                    if (Native.StatAt(top.Fd, name, where) is not { } st) continue;
                    if (!st.IsDir)
                    {
                        visit(top.Fd, name, st, where);
                        continue;
                    }
                    // Something mounted below the tree (a view a killed build left) is not part of it.
                    if (st.DevMajor != rootDev.Major || st.DevMinor != rootDev.Minor)
                        throw new IOException($"{where} is a mount point: a tree is walked on its own filesystem only");
                    var child = new Frame(OpenChildDir(top.Fd, name, where), name, where);
                    if (stack.Count >= HeldDescriptors)
                    {
                        Native.Close(top.Fd);
                        top.Fd = -1;
                    }
                    stack.Add(child);
                    Prepare(child, makeWritable);
                    continue;
                }
                stack.RemoveAt(stack.Count - 1);
                if (stack.Count == 0)
                {
                    Native.Close(top.Fd);
                    top.Fd = -1;
                    break;
                }
                var parent = stack[^1];
                if (parent.Fd < 0)
                {
                    // ".." of a directory is never a symlink: this is the very parent the walk came from.
                    parent.Fd = Native.OpenAt(top.Fd, "..", Native.O_PATH | Native.O_DIRECTORY);
                    if (parent.Fd < 0) throw new NativeException("open directory", parent.Display, -parent.Fd);
                }
                var dirSt = Native.StatAt(top.Fd, ReadOnlySpan<byte>.Empty, top.Display);
                Native.Close(top.Fd);
                top.Fd = -1;
                if (dirSt is { } ds) visit(parent.Fd, top.Name, ds, top.Display);
            }
        }
        finally
        {
            foreach (var f in stack)
                if (f.Fd >= 0) Native.Close(f.Fd);
        }
    }

    /// <summary>
    /// Opens directory <paramref name="rel"/> below <paramref name="rootFd"/> as an O_PATH descriptor when no component
    /// of it is a symlink (or ".."); otherwise, or when it does not exist, returns -errno (ENOTDIR for a link, ELOOP for "..").
    /// For clean-up after a step that may have replaced directories with links: what moved is left alone.
    /// </summary>
    public static int OpenBeneath(int rootFd, string rel)
    {
        var fd = Native.OpenAt(rootFd, ".", Native.O_PATH | Native.O_DIRECTORY);
        foreach (var part in rel.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (fd < 0) return fd;
            var next = part is "." or ".." ? -Native.ELOOP : Native.OpenAt(fd, part, OpenDirFlags);
            Native.Close(fd);
            fd = next;
        }
        return fd;
    }

    private static void Prepare(Frame frame, bool makeWritable)
    {
        if (makeWritable && Native.StatAt(frame.Fd, ReadOnlySpan<byte>.Empty, frame.Display) is { } st && (st.Mode & 0b111_000_000) != 0b111_000_000)
            Native.ChmodFd(frame.Fd, (st.Mode & 0xFFF) | 0b111_000_000); // best effort: a directory we do not own stays as it is
        frame.Names = Native.ReadDir(frame.Fd, frame.Display);
    }

    private static int OpenChildDir(int parentFd, ReadOnlySpan<byte> name, string display)
    {
        var fd = Native.OpenAt(parentFd, name, OpenDirFlags);
        if (fd < 0) throw new NativeException("open directory", display, -fd);
        return fd;
    }

    private sealed class Frame(int fd, byte[] name, string display)
    {
        public int Fd { get; set; } = fd;
        public byte[] Name { get; } = name;
        public string Display { get; } = display;
        public List<byte[]> Names { get; set; } = [];
        public int Index { get; set; }
    }
}
