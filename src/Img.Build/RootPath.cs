namespace Img.Build;

/// <summary>
/// Resolves paths inside a root directory the way a chroot would: absolute symlink targets and ".." are taken
/// relative to the root, so nothing a rootfs contains can send a write outside it.
/// </summary>
public static class RootPath
{
    private const int MaxLinks = 255;

    /// <summary>
    /// The host path for <paramref name="path"/> inside <paramref name="root"/>, following every symlink on the way
    /// (the last component too when <paramref name="followFinal"/>). Components that do not exist are kept as named.
    /// </summary>
    public static string Resolve(string root, string path, bool followFinal = true)
    {
        root = Path.GetFullPath(root);
        var pending = new Stack<string>(Split(path).Reverse());
        var resolved = new List<string>();
        int links = 0;
        while (pending.Count > 0)
        {
            var part = pending.Pop();
            if (part == ".") continue;
            if (part == "..")
            {
                if (resolved.Count > 0) resolved.RemoveAt(resolved.Count - 1);
                continue;
            }
            var candidate = Host(root, resolved, part);
            var st = Posix.TryLstat(candidate);
            bool isLast = pending.Count == 0;
            if (st is { IsSymlink: true } && (!isLast || followFinal))
            {
                if (++links > MaxLinks) throw new IOException($"too many levels of symbolic links resolving {path}");
                var target = new FileInfo(candidate).LinkTarget ?? "";
                if (target.StartsWith('/')) resolved.Clear();
                foreach (var t in Split(target).Reverse()) pending.Push(t);
                continue;
            }
            resolved.Add(part);
        }
        return resolved.Count == 0 ? root : Path.Combine(root, string.Join('/', resolved));
    }

    private static string Host(string root, List<string> resolved, string part) =>
        Path.Combine(root, string.Join('/', resolved.Append(part)));

    private static IEnumerable<string> Split(string path) => path.Split('/', StringSplitOptions.RemoveEmptyEntries);
}
