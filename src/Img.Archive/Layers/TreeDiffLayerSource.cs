namespace Img.Archive.Layers;

/// <summary>
/// The changes from a lower tree to an upper tree (the native snapshotter's diff), following
/// containerd's fs.Changes double walk: a path only in upper is added with its subtree; a path only
/// in lower becomes one whiteout (its subtree is not walked); a path in both is written when it
/// changed. Directories compare type, mode, owner and xattrs; other files also size, mtime and,
/// when both mtimes have zero nanoseconds (possibly truncated by a copy), content or link target.
/// Parent directories of a changed path are written first (from upper) when not already written.
/// </summary>
public sealed class TreeDiffLayerSource(string lowerDir, string upperDir, WriteOptions? options = null) : ILayerSource
{
    /// <inheritdoc />
    public async Task WriteEntriesAsync(TarStreamWriter tar, CancellationToken ct = default)
    {
        if (Native.Lstat(lowerDir) is not { IsDir: true }) throw new DirectoryNotFoundException($"lower tree {lowerDir} is not a directory");
        if (Native.Lstat(upperDir) is not { IsDir: true }) throw new DirectoryNotFoundException($"upper tree {upperDir} is not a directory");
        var state = new Walk(tar, new FileEntryWriter(options ?? new WriteOptions()), upperDir, ct);
        await DiffDirAsync(state, lowerDir, upperDir, "").ConfigureAwait(false);
    }

    private sealed class Walk(TarStreamWriter tar, FileEntryWriter files, string upperRoot, CancellationToken ct)
    {
        public TarStreamWriter Tar => tar;
        public FileEntryWriter Files => files;
        public CancellationToken Ct => ct;
        private readonly HashSet<string> _writtenDirs = new(StringComparer.Ordinal) { "" };

        /// <summary>Writes the not-yet-written ancestors of <paramref name="rel"/>, outermost first.</summary>
        public async ValueTask IncludeParentsAsync(string rel)
        {
            var slash = rel.LastIndexOf('/');
            if (slash < 0) return;
            var parent = rel[..slash];
            if (_writtenDirs.Contains(parent)) return;
            await IncludeParentsAsync(parent).ConfigureAwait(false);
            var full = Path.Combine(upperRoot, parent);
            if (Native.Lstat(full) is { } st) await files.WriteAsync(tar, full, parent, st, ct).ConfigureAwait(false);
            _writtenDirs.Add(parent);
        }

        public async ValueTask WriteAsync(string full, string rel, FileStat st)
        {
            await IncludeParentsAsync(rel).ConfigureAwait(false);
            await files.WriteAsync(tar, full, rel, st, ct).ConfigureAwait(false);
            if (st.IsDir) _writtenDirs.Add(rel);
        }

        public async ValueTask WhiteoutAsync(string rel)
        {
            await IncludeParentsAsync(rel).ConfigureAwait(false);
            var slash = rel.LastIndexOf('/');
            var wh = FileEntryWriter.Whiteout(slash < 0 ? "" : rel[..slash], rel[(slash + 1)..]);
            await tar.WriteEntryAsync(wh, null, ct).ConfigureAwait(false);
        }
    }

    private static async Task DiffDirAsync(Walk w, string? lower, string upper, string rel)
    {
        var lowerNames = lower is null ? [] : FileEntryWriter.ListSorted(lower);
        var upperNames = FileEntryWriter.ListSorted(upper);
        var names = new SortedSet<string>(lowerNames, Utf8Order.Instance);
        names.UnionWith(upperNames);
        var upperSet = new HashSet<string>(upperNames, StringComparer.Ordinal);
        foreach (var name in names)
        {
            w.Ct.ThrowIfCancellationRequested();
            var entry = FileEntryWriter.Join(rel, name);
            var l = lower is null ? null : Native.Lstat(Path.Combine(lower, name));
            var u = upperSet.Contains(name) ? Native.Lstat(Path.Combine(upper, name)) : null;
            var upperFull = Path.Combine(upper, name);
            if (u is not { } us)
            {
                if (l is not null) await w.WhiteoutAsync(entry).ConfigureAwait(false);
                continue;
            }
            if (l is not { } ls)
            {
                await w.WriteAsync(upperFull, entry, us).ConfigureAwait(false);
                if (us.IsDir) await DiffDirAsync(w, null, upperFull, entry).ConfigureAwait(false);
                continue;
            }
            var lowerFull = Path.Combine(lower!, name);
            if (us.IsDir && ls.IsDir)
            {
                if (!SameMetadata(lowerFull, upperFull, ls, us, w.Files)) await w.WriteAsync(upperFull, entry, us).ConfigureAwait(false);
                await DiffDirAsync(w, lowerFull, upperFull, entry).ConfigureAwait(false);
            }
            else if (us.IsDir)
            {
                // A file became a directory: applying the directory entry replaces the file.
                await w.WriteAsync(upperFull, entry, us).ConfigureAwait(false);
                await DiffDirAsync(w, null, upperFull, entry).ConfigureAwait(false);
            }
            else if (!SameFile(lowerFull, upperFull, ls, us, w.Files))
            {
                await w.WriteAsync(upperFull, entry, us).ConfigureAwait(false);
            }
        }
    }

    private static bool SameMetadata(string lowerFull, string upperFull, FileStat l, FileStat u, FileEntryWriter files) =>
        l.Mode == u.Mode && l.Uid == u.Uid && l.Gid == u.Gid &&
        l.RdevMajor == u.RdevMajor && l.RdevMinor == u.RdevMinor &&
        (!files.Options.IncludeXattrs || SameXattrs(lowerFull, upperFull)) &&
        (!files.Options.OwnersRecorded || OwnerRecord.Read(lowerFull, l.Mode) == OwnerRecord.Read(upperFull, u.Mode));

    private static bool SameFile(string lowerFull, string upperFull, FileStat l, FileStat u, FileEntryWriter files)
    {
        if (l.Ino == u.Ino && l.DevMajor == u.DevMajor && l.DevMinor == u.DevMinor) return true;
        if (!SameMetadata(lowerFull, upperFull, l, u, files)) return false;
        if (l.Size != u.Size || l.MtimeSec != u.MtimeSec) return false;
        if (u.IsSymlink && Native.ReadLinkAt(Native.AT_FDCWD, lowerFull, lowerFull) != Native.ReadLinkAt(Native.AT_FDCWD, upperFull, upperFull))
            return false;
        if (l.MtimeNsec == 0 && u.MtimeNsec == 0)
            return !u.IsRegular || u.Size == 0 || SameContent(lowerFull, upperFull);
        return l.MtimeNsec == u.MtimeNsec;
    }

    private static bool SameXattrs(string a, string b)
    {
        var an = Native.ListXattrs(a).Where(x => !FileEntryWriter.IsPrivateXattr(x)).ToList();
        var bn = Native.ListXattrs(b).Where(x => !FileEntryWriter.IsPrivateXattr(x)).ToList();
        if (!an.SequenceEqual(bn)) return false;
        foreach (var x in an)
            if (!(Native.GetXattr(a, x) ?? []).AsSpan().SequenceEqual(Native.GetXattr(b, x) ?? []))
                return false;
        return true;
    }

    private static bool SameContent(string a, string b)
    {
        using var fa = new FileStream(a, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 0, FileOptions.SequentialScan);
        using var fb = new FileStream(b, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 0, FileOptions.SequentialScan);
        var ba = new byte[128 * 1024];
        var bb = new byte[128 * 1024];
        while (true)
        {
            var na = fa.ReadAtLeast(ba, ba.Length, throwOnEndOfStream: false);
            var nb = fb.ReadAtLeast(bb, bb.Length, throwOnEndOfStream: false);
            if (na != nb || !ba.AsSpan(0, na).SequenceEqual(bb.AsSpan(0, nb))) return false;
            if (na < ba.Length) return true;
        }
    }
}
