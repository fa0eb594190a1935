using System.Buffers;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Img.Archive.Layers;

/// <summary>The state of applying one layer: its budget, the paths it created, directories to finish last, warnings.</summary>
internal sealed class ApplyRun(RootedDirectory root, ApplyOptions options, CancellationToken ct)
{
    private readonly HashSet<string> _layerPaths = new(StringComparer.Ordinal);
    private readonly List<(string Rel, uint Mode, long Sec, uint Nsec)> _dirs = [];
    private readonly Dictionary<string, int> _dirIndex = new(StringComparer.Ordinal);
    private readonly HashSet<string> _warned = new(StringComparer.Ordinal);
    private readonly List<string> _warnings = [];

    public long Entries { get; private set; }
    public long Bytes { get; private set; }
    public IReadOnlyList<string> Warnings => _warnings;

    public void Warn(string message)
    {
        if (!_warned.Add(message)) return;
        if (_warnings.Count < 1000) _warnings.Add(message);
        options.Warn?.Invoke(message);
    }

    public async Task ApplyEntryAsync(TarHeader h, Stream data)
    {
        if (++Entries > options.MaxEntries)
            throw new LayerSecurityException($"layer exceeds the limit of {options.MaxEntries} entries at {h.Name}");
        var rel = RootedDirectory.Clean(h.Name);
        if (rel.Length == 0) return; // the root entry ("./"): the root is the caller's
        var slash = rel.LastIndexOf('/');
        var parentRel = slash < 0 ? "" : rel[..slash];
        var name = rel[(slash + 1)..];

        if (name.StartsWith(TarHeader.WhiteoutPrefix, StringComparison.Ordinal))
        {
            ApplyWhiteout(parentRel, name);
            return;
        }

        if (h.Kind == TarEntryKind.File && h.Size > options.MaxTotalBytes - Bytes)
            throw new LayerSecurityException($"layer exceeds the limit of {options.MaxTotalBytes} bytes at {h.Name} ({h.Size} bytes declared)");

        var parentFd = root.OpenDirOrThrow(parentRel, create: true);
        try
        {
            var existing = Native.StatAt(parentFd, name, rel);
            if (existing is { } ex && !(ex.IsDir && h.Kind == TarEntryKind.Directory))
                FileTree.RemoveAll(parentFd, name, rel);
            _layerPaths.Add(rel);
            switch (h.Kind)
            {
                case TarEntryKind.Directory:
                    if (existing is not { IsDir: true }) Check(Native.MkdirAt(parentFd, name, 0b111_000_000 /* 0700 */), "mkdir", rel);
                    var dirMode = options.RecordOwners
                        ? RecordOwner(parentFd, name, rel, h, Native.S_IFDIR)
                        : SetOwner(parentFd, name, rel, h) ? h.Mode : h.Mode & ~SetIdBits;
                    SetXattrs(parentFd, name, rel, h);
                    // Mode and mtime after the contents; a repeated entry updates the first one's slot (parents stay before children).
                    if (_dirIndex.TryGetValue(rel, out var slot)) _dirs[slot] = (rel, dirMode, h.MtimeSec, h.MtimeNsec);
                    else
                    {
                        _dirIndex[rel] = _dirs.Count;
                        _dirs.Add((rel, dirMode, h.MtimeSec, h.MtimeNsec));
                    }
                    return;
                case TarEntryKind.File:
                    await WriteFileAsync(parentFd, name, rel, h, data).ConfigureAwait(false);
                    break;
                case TarEntryKind.Symlink:
                    Check(Native.SymlinkAt(h.LinkName, parentFd, name), "symlink", rel);
                    SetOwner(parentFd, name, rel, h);
                    SetXattrs(parentFd, name, rel, h);
                    break;
                case TarEntryKind.HardLink:
                    Link(parentFd, name, rel, h);
                    return; // a hard link shares its target's inode and metadata
                case TarEntryKind.CharDevice or TarEntryKind.BlockDevice when options.RecordOwners:
                    {
                        // mknod needs privilege: an empty file whose record says which device it is.
                        var fd = Native.OpenAt(parentFd, name, Native.O_WRONLY | Native.O_CREAT | Native.O_EXCL | Native.O_NOFOLLOW, 0b110_000_000);
                        if (fd < 0) throw new NativeException("create", Path.Combine(root.Root, rel), -fd);
                        Native.Close(fd);
                        RecordOwner(parentFd, name, rel, h, h.Kind == TarEntryKind.CharDevice ? Native.S_IFCHR : Native.S_IFBLK);
                        break;
                    }
                case TarEntryKind.CharDevice or TarEntryKind.BlockDevice or TarEntryKind.Fifo:
                    if (!MakeNode(parentFd, name, rel, h)) { _layerPaths.Remove(rel); return; }
                    var nodeOwnerKept = SetOwner(parentFd, name, rel, h);
                    Check(Native.ChmodAt(parentFd, name, nodeOwnerKept ? h.Mode : h.Mode & ~SetIdBits), "chmod", rel);
                    SetXattrs(parentFd, name, rel, h);
                    break;
            }
            Check(Native.UtimesAt(parentFd, name, h.MtimeSec, h.MtimeNsec), "set times of", rel);
        }
        finally { Native.Close(parentFd); }
    }

    private Task WriteFileAsync(int parentFd, string name, string rel, TarHeader h, Stream data)
    {
        var fd = Native.OpenAt(parentFd, name, Native.O_WRONLY | Native.O_CREAT | Native.O_EXCL | Native.O_NOFOLLOW, 0b110_000_000 /* 0600 */);
        if (fd < 0) throw new NativeException("create", Path.Combine(root.Root, rel), -fd);
        using (var handle = new SafeFileHandle(fd, ownsHandle: true))
        {
            // Synchronous reads and pwrite(2): an async write per file costs a thread-pool hop (and the pool's
            // spinning) for every one of a base image's thousands of small files; the data is already in memory.
            var buf = ArrayPool<byte>.Shared.Rent(256 * 1024);
            try
            {
                long written = 0;
                int n;
                while ((n = data.Read(buf)) > 0)
                {
                    ct.ThrowIfCancellationRequested();
                    if (written + n > h.Size || Bytes + n > options.MaxTotalBytes)
                        throw new LayerSecurityException($"layer exceeds the limit of {options.MaxTotalBytes} bytes at {h.Name}");
                    RandomAccess.Write(handle, buf.AsSpan(0, n), written);
                    written += n;
                    Bytes += n;
                }
            }
            finally { ArrayPool<byte>.Shared.Return(buf); }
            // Content first, then owner, then mode: chown clears setuid/setgid, writes by the unprivileged clear them too.
            if (options.RecordOwners)
            {
                handle.Dispose();
                RecordOwner(parentFd, name, rel, h, Native.S_IFREG);
            }
            else
            {
                var ownerKept = !SetsOwner || OwnerResult(Native.Fchown(fd, Owner(h).Uid, Owner(h).Gid), rel, h);
                Check(Native.Fchmod(fd, ownerKept ? h.Mode : h.Mode & ~SetIdBits), "chmod", rel);
            }
        }
        SetXattrs(parentFd, name, rel, h); // after chown, which drops security.capability
        return Task.CompletedTask;
    }

    private void Link(int parentFd, string name, string rel, TarHeader h)
    {
        var target = RootedDirectory.Clean(h.LinkName, "hard link target");
        if (target.Length == 0) throw new LayerSecurityException($"hard link {h.Name} points at the root directory");
        var slash = target.LastIndexOf('/');
        var targetParent = root.OpenDir(slash < 0 ? "" : target[..slash], create: false);
        if (targetParent < 0) throw new LayerFormatException($"hard link {h.Name}: target {h.LinkName} does not exist in the layer or below it");
        try
        {
            var tname = target[(slash + 1)..];
            var st = Native.StatAt(targetParent, tname, target);
            if (st is null) throw new LayerFormatException($"hard link {h.Name}: target {h.LinkName} does not exist in the layer or below it");
            if (st.Value.IsDir) throw new LayerFormatException($"hard link {h.Name}: target {h.LinkName} is a directory");
            Check(Native.LinkAt(targetParent, tname, parentFd, name), "link", rel);
        }
        finally { Native.Close(targetParent); }
    }

    private bool MakeNode(int parentFd, string name, string rel, TarHeader h)
    {
        var type = h.Kind switch
        {
            TarEntryKind.CharDevice => Native.S_IFCHR,
            TarEntryKind.BlockDevice => Native.S_IFBLK,
            _ => Native.S_IFIFO,
        };
        var isDevice = h.Kind != TarEntryKind.Fifo;
        var r = isDevice && options.DevicesForbidden
            ? -Native.EPERM
            : Native.MknodAt(parentFd, name, type | h.Mode, isDevice ? Native.MakeDev(h.DevMajor, h.DevMinor) : 0);
        if (r == 0) return true;
        if (r == -Native.EPERM && options.SkipForbiddenDevices)
        {
            Warn($"skipped {(isDevice ? "device node" : "fifo")} {rel}: creating it is not permitted here");
            return false;
        }
        throw new NativeException("mknod", Path.Combine(root.Root, rel), -r);
    }

    private void ApplyWhiteout(string parentRel, string name)
    {
        if (name == TarHeader.OpaqueMarker)
        {
            var dirFd = root.OpenDirOrThrow(parentRel, create: true);
            try
            {
                if (options.Mode == ApplyMode.OverlayUpper)
                    SetOverlayOpaque(dirFd, parentRel);
                else
                    RemoveLowerContent(dirFd, parentRel);
            }
            finally { Native.Close(dirFd); }
            return;
        }
        if (name.StartsWith(TarHeader.WhiteoutMetaPrefix, StringComparison.Ordinal)) return; // aufs bookkeeping (.wh..wh.plnk)
        var target = name[TarHeader.WhiteoutPrefix.Length..];
        if (target is "" or "." or "..") throw new LayerFormatException($"invalid whiteout {FileEntryWriter.Join(parentRel, name)}");
        var rel = FileEntryWriter.Join(parentRel, target);
        if (options.Mode == ApplyMode.Merged)
        {
            var fd = root.OpenDir(parentRel, create: false);
            if (fd < 0) return; // nothing below to delete
            try { FileTree.RemoveAll(fd, target, rel); }
            finally { Native.Close(fd); }
            _layerPaths.Remove(rel);
            return;
        }
        var parentFd = root.OpenDirOrThrow(parentRel, create: true);
        try
        {
            FileTree.RemoveAll(parentFd, target, rel);
            var r = Native.MknodAt(parentFd, target, Native.S_IFCHR, 0);
            if (r == -Native.EPERM)
                throw new OverlayWhiteoutException($"cannot create the overlay whiteout {rel} (mknod 0/0 not permitted); apply onto a merged copy instead");
            Check(r, "mknod whiteout", rel);
        }
        finally { Native.Close(parentFd); }
    }

    /// <summary>
    /// Opaque in a merged dir: delete everything below that this layer did not write, descending into
    /// directories this layer did write (their lower content is hidden too), as docker's unpacker does.
    /// </summary>
    private void RemoveLowerContent(int dirFd, string rel)
    {
        foreach (var child in FileTree.ListNames(dirFd))
        {
            var childRel = FileEntryWriter.Join(rel, child);
            if (!_layerPaths.Contains(childRel))
            {
                FileTree.RemoveAll(dirFd, child, childRel);
                continue;
            }
            if (Native.StatAt(dirFd, child, childRel) is not { IsDir: true }) continue;
            var fd = Native.OpenAtOrThrow(dirFd, child, Native.O_PATH | Native.O_DIRECTORY | Native.O_NOFOLLOW, 0, childRel);
            try { RemoveLowerContent(fd, childRel); }
            finally { Native.Close(fd); }
        }
    }

    private void SetOverlayOpaque(int dirFd, string rel)
    {
        var r = Native.SetXattr(Native.FdPath(dirFd, ""), options.OverlayXattrPrefix + "opaque", "y"u8);
        if (r < 0) throw new NativeException($"set {options.OverlayXattrPrefix}opaque on", Path.Combine(root.Root, rel), -r);
    }

    private const uint SetIdBits = 0xC00; // 06000: setuid, setgid

    private bool SetsOwner => options.PreserveOwnership || options.Owner is not null;

    private (uint Uid, uint Gid) Owner(TarHeader h) => options.Owner ?? ((uint)h.Uid, (uint)h.Gid);

    /// <summary>
    /// Records the entry's owner and mode (<see cref="ApplyOptions.RecordOwners"/>) and returns the permissions it keeps on
    /// disk. One whose record cannot be kept and is not root's is named in a warning.
    /// </summary>
    private uint RecordOwner(int parentFd, string name, string rel, TarHeader h, uint type)
    {
        var (uid, gid) = Owner(h);
        var record = new OwnerRecord(uid, gid, type | h.Mode, h.DevMajor, h.DevMinor);
        if (!OwnerRecord.Write(Native.FdPath(parentFd, name), record) && (uid != 0 || gid != 0))
            Warn($"owner {uid}:{gid} of {rel} cannot be recorded here (no user namespace, and its directory cannot hold its record: name too long or xattr space full): it is 0:0 in the image");
        return OwnerRecord.DiskPermissions(h.Mode, type == Native.S_IFDIR);
    }

    /// <summary>Sets the entry's owner; false when it was skipped (then its setuid/setgid bits must go too).</summary>
    private bool SetOwner(int parentFd, string name, string rel, TarHeader h)
    {
        if (options.RecordOwners)
        {
            RecordOwner(parentFd, name, rel, h, h.Kind == TarEntryKind.Symlink ? Native.S_IFLNK : Native.S_IFIFO);
            return true;
        }
        if (!SetsOwner) return true;
        var (uid, gid) = Owner(h);
        return OwnerResult(Native.LchownAt(parentFd, name, uid, gid), rel, h);
    }

    private bool OwnerResult(int r, string rel, TarHeader h)
    {
        if (r == 0) return true;
        var (uid, gid) = Owner(h);
        if (r is -Native.EPERM or -Native.EINVAL)
        {
            if (options.SkipUnmappedOwnership)
            {
                Warn($"ownership {uid}:{gid} cannot be set here (id not mapped in this user namespace); kept the applying user's for {rel}, without setuid/setgid");
                return false;
            }
            throw new LayerFormatException($"{rel} is owned by {uid}:{gid}, an id outside the range this user namespace maps " +
                "(give the user a larger subordinate range in /etc/subuid and /etc/subgid)");
        }
        throw new NativeException($"chown {uid}:{gid}", Path.Combine(root.Root, rel), -r);
    }

    private void SetXattrs(int parentFd, string name, string rel, TarHeader h)
    {
        if (h.Xattrs.Count == 0) return;
        var path = Native.FdPath(parentFd, name);
        foreach (var (key, value) in h.Xattrs)
        {
            if (key == OwnerRecord.Xattr) continue; // img's own bookkeeping, never taken from a layer
            var r = Native.SetXattr(path, key, value);
            if (r == 0) continue;
            if (r is -Native.EPERM or -Native.EOPNOTSUPP or -Native.EACCES)
            {
                Warn($"extended attribute {key} on {rel} not set: {(r == -Native.EOPNOTSUPP ? "not supported by this filesystem" : "not permitted here")}");
                continue;
            }
            throw new NativeException($"setxattr {key}", Path.Combine(root.Root, rel), -r);
        }
    }

    /// <summary>Sets directory modes and mtimes last, deepest first, so writing their contents did not disturb them.</summary>
    public void FinishDirectories()
    {
        for (var i = _dirs.Count - 1; i >= 0; i--)
        {
            var (rel, mode, sec, nsec) = _dirs[i];
            var slash = rel.LastIndexOf('/');
            var parentFd = root.OpenDir(slash < 0 ? "" : rel[..slash], create: false);
            if (parentFd < 0) continue; // removed later in the layer
            try
            {
                var name = rel[(slash + 1)..];
                if (Native.StatAt(parentFd, name, rel) is not { IsDir: true }) continue; // replaced later in the layer
                Check(Native.ChmodAt(parentFd, name, mode), "chmod", rel);
                Check(Native.UtimesAt(parentFd, name, sec, nsec), "set times of", rel);
            }
            finally { Native.Close(parentFd); }
        }
    }

    private void Check(int r, string op, string rel)
    {
        if (r < 0) throw new NativeException(op, Path.Combine(root.Root, rel), -r);
    }
}
