using System.Text;

namespace Img.Archive.Layers;

/// <summary>
/// A directory that every path is resolved inside, the way openat2(RESOLVE_IN_ROOT) does: ".." stops
/// at the root, and a symlink (planted by this layer or an earlier one, absolute or relative) is
/// followed as if the root were "/". Parents are opened as O_PATH descriptors, and callers act on
/// the final component with *at calls that do not follow it, so nothing is ever written outside.
/// Uses openat2 when the kernel has it (5.6+), else walks component by component itself.
/// </summary>
public sealed class RootedDirectory : IDisposable
{
    public const int PathMax = 4096;
    public const int NameMax = 255;
    private const int MaxSymlinks = 40;

    private readonly int _rootFd;
    private readonly bool _useOpenat2;

    public RootedDirectory(string root, bool useOpenat2 = true)
    {
        Root = Path.GetFullPath(root);
        _rootFd = Native.OpenAtOrThrow(Native.AT_FDCWD, Root, Native.O_PATH | Native.O_DIRECTORY, 0, Root);
        _useOpenat2 = useOpenat2;
    }

    public string Root { get; }

    public int RootFd => _rootFd;

    /// <summary>
    /// Cleans a tar entry name into a root-relative path: a leading '/' is dropped (the root is "/"),
    /// "." components vanish, ".." removes the previous component and must never climb above the root.
    /// Over-long names and components are refused.
    /// </summary>
    public static string Clean(string name, string what = "entry")
    {
        if (Encoding.UTF8.GetByteCount(name) >= PathMax)
            throw new LayerSecurityException($"{what} name is {Encoding.UTF8.GetByteCount(name)} bytes, longer than PATH_MAX ({PathMax}): {Shorten(name)}");
        if (name.Contains('\0')) throw new LayerSecurityException($"{what} name contains a NUL byte: {Shorten(name)}");
        var parts = new List<string>();
        foreach (var c in name.Split('/'))
        {
            if (c.Length == 0 || c == ".") continue;
            if (c == "..")
            {
                if (parts.Count == 0) throw new LayerSecurityException($"{what} {Shorten(name)} climbs out of the root with '..'");
                parts.RemoveAt(parts.Count - 1);
                continue;
            }
            if (Encoding.UTF8.GetByteCount(c) > NameMax)
                throw new LayerSecurityException($"{what} name has a component longer than NAME_MAX ({NameMax} bytes): {Shorten(name)}");
            parts.Add(c);
        }
        return string.Join('/', parts);
    }

    private static string Shorten(string s) => s.Length <= 120 ? s : s[..60] + "…" + s[^40..];

    /// <summary>
    /// Opens directory <paramref name="rel"/> (already cleaned) as an O_PATH fd, resolving symlinks inside the root.
    /// With <paramref name="create"/>, missing directories are made (mode 0755). Returns -errno on failure.
    /// </summary>
    public int OpenDir(string rel, bool create)
    {
        if (rel.Length == 0) return Native.OpenAt(_rootFd, ".", Native.O_PATH | Native.O_DIRECTORY);
        var fd = Open(rel);
        if (fd != -Native.ENOENT || !create) return fd;
        var slash = rel.LastIndexOf('/');
        var parentFd = OpenDir(slash < 0 ? "" : rel[..slash], create: true);
        if (parentFd < 0) return parentFd;
        try
        {
            var r = Native.MkdirAt(parentFd, rel[(slash + 1)..], 0b111_101_101 /* 0755 */);
            if (r < 0 && r != -Native.EEXIST) return r;
        }
        finally { Native.Close(parentFd); }
        return Open(rel);
    }

    /// <summary>Like <see cref="OpenDir"/> but throws a clear error.</summary>
    public int OpenDirOrThrow(string rel, bool create)
    {
        var fd = OpenDir(rel, create);
        if (fd >= 0) return fd;
        throw -fd switch
        {
            Native.ENOTDIR => new LayerFormatException($"cannot use {rel} as a directory inside {Root}: a path component is not a directory"),
            Native.ELOOP => new LayerFormatException($"too many symlinks resolving {rel} inside {Root}"),
            _ => new NativeException("open directory", Path.Combine(Root, rel), -fd),
        };
    }

    private int Open(string rel)
    {
        if (_useOpenat2)
        {
            var fd = Native.OpenInRoot(_rootFd, rel, Native.O_PATH | Native.O_DIRECTORY);
            if (fd != -Native.ENOSYS) return fd;
        }
        return Walk(rel);
    }

    /// <summary>The portable resolution: one component at a time, O_NOFOLLOW, symlink targets re-rooted.</summary>
    private int Walk(string rel)
    {
        var stack = new List<int> { Native.OpenAt(_rootFd, ".", Native.O_PATH | Native.O_DIRECTORY) };
        var pending = new LinkedList<string>(rel.Split('/', StringSplitOptions.RemoveEmptyEntries));
        var links = 0;
        try
        {
            while (pending.First is { } node)
            {
                var comp = node.Value;
                pending.RemoveFirst();
                if (comp == ".") continue;
                if (comp == "..")
                {
                    if (stack.Count > 1)
                    {
                        Native.Close(stack[^1]);
                        stack.RemoveAt(stack.Count - 1);
                    }
                    continue;
                }
                var fd = Native.OpenAt(stack[^1], comp, Native.O_PATH | Native.O_NOFOLLOW);
                if (fd < 0) return fd;
                var st = Native.StatAt(fd, "", comp);
                if (st is { IsSymlink: true })
                {
                    string target;
                    try { target = Native.ReadLinkAt(fd, "", comp); }
                    finally { Native.Close(fd); }
                    if (++links > MaxSymlinks) return -Native.ELOOP;
                    if (target.StartsWith('/'))
                    {
                        for (var i = stack.Count - 1; i > 0; i--) Native.Close(stack[i]);
                        stack.RemoveRange(1, stack.Count - 1);
                    }
                    foreach (var part in target.Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse())
                        pending.AddFirst(part);
                    continue;
                }
                if (st is not { IsDir: true })
                {
                    Native.Close(fd);
                    return -Native.ENOTDIR;
                }
                stack.Add(fd);
            }
            var result = stack[^1];
            stack.RemoveAt(stack.Count - 1);
            return result;
        }
        finally
        {
            foreach (var fd in stack) Native.Close(fd);
        }
    }

    public void Dispose() => Native.Close(_rootFd);
}
