using Microsoft.Win32.SafeHandles;

namespace Img.Archive.Layers;

/// <summary>How <see cref="TreeCopy"/> copies.</summary>
public sealed record TreeCopyOptions
{
    /// <summary>Set owners to the source's uid/gid (default). When refused (id not mapped), warn and keep going.</summary>
    public bool PreserveOwnership { get; init; } = true;
    /// <summary>Copy extended attributes (default true), overlay-private ones included: a copy is not a layer.</summary>
    public bool PreserveXattrs { get; init; } = true;
    /// <summary>Called for each warning.</summary>
    public Action<string>? Warn { get; init; }
}

/// <summary>What a copy did, and how file data moved.</summary>
/// <param name="Files">Regular files copied (not counting hard links).</param>
/// <param name="Bytes">Bytes of regular-file data.</param>
/// <param name="Reflinked">Files shared with FICLONE (no data copied).</param>
/// <param name="CopyFileRange">Files copied in the kernel with copy_file_range.</param>
/// <param name="Streamed">Files copied through user space.</param>
/// <param name="Warnings">Ownership, device or xattr operations that were refused and skipped.</param>
public sealed record TreeCopyResult(long Files, long Bytes, long Reflinked, long CopyFileRange, long Streamed, IReadOnlyList<string> Warnings);

/// <summary>
/// Copies a directory tree preserving everything a layer cares about: owners, modes (setuid included),
/// nanosecond mtimes, xattrs, hard links (as links), symlinks as they are, devices and fifos.
/// File data is reflinked (FICLONE) when the filesystem can, else copied with copy_file_range, else streamed.
/// </summary>
public static class TreeCopy
{
    /// <summary>Copies the contents of <paramref name="src"/> into <paramref name="dst"/> (created if missing; its own metadata is set from src).</summary>
    public static Task<TreeCopyResult> CopyAsync(string src, string dst, TreeCopyOptions? options = null, CancellationToken ct = default) =>
        Task.Run(() => new Copier(options ?? new TreeCopyOptions(), ct).Run(src, dst), ct);

    private sealed class Copier(TreeCopyOptions options, CancellationToken ct)
    {
        private readonly Dictionary<(uint, uint, ulong), string> _links = new();
        private readonly List<string> _warnings = [];
        private readonly List<(string Path, FileStat St)> _dirs = [];
        private long _files, _bytes, _reflinked, _cfr, _streamed;
        private readonly CopyRoute _route = new();

        public TreeCopyResult Run(string src, string dst)
        {
            var st = Native.Lstat(src) ?? throw new DirectoryNotFoundException($"copy source {src} does not exist");
            if (!st.IsDir) throw new IOException($"copy source {src} is not a directory");
            if (Native.Lstat(dst) is not { IsDir: true })
                Check(Native.MkdirAt(Native.AT_FDCWD, dst, 0b111_000_000), "mkdir", dst);
            CopyDir(src, dst);
            Meta(src, dst, st);
            _dirs.Add((dst, st));
            // Directory modes and times last, deepest first: creating entries changes a directory's mtime.
            for (var i = _dirs.Count - 1; i >= 0; i--)
            {
                var (path, dst_st) = _dirs[i];
                Check(Native.ChmodAt(Native.AT_FDCWD, path, dst_st.Permissions), "chmod", path);
                Check(Native.UtimesAt(Native.AT_FDCWD, path, dst_st.MtimeSec, dst_st.MtimeNsec), "set times of", path);
            }
            return new TreeCopyResult(_files, _bytes, _reflinked, _cfr, _streamed, _warnings);
        }

        private void CopyDir(string src, string dst)
        {
            foreach (var name in FileEntryWriter.ListSorted(src))
            {
                ct.ThrowIfCancellationRequested();
                var s = Path.Combine(src, name);
                var d = Path.Combine(dst, name);
                if (Native.Lstat(s) is not { } st) continue;
                // Whatever the destination already holds at this name goes first (a directory stays for a directory):
                // entries are created with O_EXCL/O_NOFOLLOW, so a link there is replaced, never written through.
                if (Native.Lstat(d) is { } existing && !(existing.IsDir && st.IsDir)) FileTree.RemoveTree(d);
                switch (st.Type)
                {
                    case Native.S_IFDIR:
                        if (Native.Lstat(d) is not { IsDir: true }) Check(Native.MkdirAt(Native.AT_FDCWD, d, 0b111_000_000), "mkdir", d);
                        Meta(s, d, st);
                        _dirs.Add((d, st));
                        CopyDir(s, d);
                        continue;
                    case Native.S_IFREG:
                        if (st.Nlink > 1)
                        {
                            var key = (st.DevMajor, st.DevMinor, st.Ino);
                            if (_links.TryGetValue(key, out var first))
                            {
                                Check(Native.LinkAt(Native.AT_FDCWD, first, Native.AT_FDCWD, d), "link", d);
                                continue;
                            }
                            _links[key] = d;
                        }
                        CopyFile(s, d, st);
                        break;
                    case Native.S_IFLNK:
                        Check(Native.SymlinkAt(Native.ReadLinkAt(Native.AT_FDCWD, s, s), Native.AT_FDCWD, d), "symlink", d);
                        break;
                    case Native.S_IFCHR or Native.S_IFBLK or Native.S_IFIFO:
                        var r = Native.MknodAt(Native.AT_FDCWD, d, st.Mode, Native.MakeDev(st.RdevMajor, st.RdevMinor));
                        if (r == -Native.EPERM) { Warn($"skipped device {s}: mknod not permitted"); continue; }
                        Check(r, "mknod", d);
                        break;
                    default:
                        continue; // sockets belong to a running process, not to a tree
                }
                Meta(s, d, st);
                if (!st.IsSymlink) Check(Native.ChmodAt(Native.AT_FDCWD, d, st.Permissions), "chmod", d);
                Check(Native.UtimesAt(Native.AT_FDCWD, d, st.MtimeSec, st.MtimeNsec), "set times of", d);
            }
        }

        private void CopyFile(string s, string d, FileStat st)
        {
            _files++;
            _bytes += st.Size;
            switch (FileContents.Copy(s, d, st.Size, _route))
            {
                case FileContents.How.Reflink: _reflinked++; break;
                case FileContents.How.CopyFileRange: _cfr++; break;
                case FileContents.How.Streamed: _streamed++; break;
            }
        }

        private void Meta(string s, string d, FileStat st)
        {
            if (options.PreserveOwnership)
            {
                var r = Native.LchownAt(Native.AT_FDCWD, d, st.Uid, st.Gid);
                if (r is -Native.EPERM or -Native.EINVAL) Warn($"ownership {st.Uid}:{st.Gid} of {d} not set: id not mapped here");
                else Check(r, "chown", d);
            }
            if (!options.PreserveXattrs) return;
            foreach (var x in Native.ListXattrs(s))
            {
                if (Native.GetXattr(s, x) is not { } value) continue;
                var r = Native.SetXattr(d, x, value);
                if (r is -Native.EPERM or -Native.EOPNOTSUPP or -Native.EACCES) Warn($"extended attribute {x} of {d} not set: not permitted here");
                else Check(r, "setxattr " + x, d);
            }
        }

        private void Warn(string message)
        {
            if (_warnings.Count < 1000) _warnings.Add(message);
            options.Warn?.Invoke(message);
        }

        private static void Check(int r, string op, string path)
        {
            if (r < 0) throw new NativeException(op, path, -r);
        }
    }
}
