using Img.Archive.Layers;
using Img.Dockerfile;

namespace Img.Build;

/// <summary>Who owns copied files and what mode they get.</summary>
/// <param name="Owner">uid:gid for every copied file and created directory, or null to keep the source's (or root for context files).</param>
/// <param name="KeepSourceOwner">Keep the source's uid/gid when <paramref name="Owner"/> is null (COPY --from); otherwise 0:0.</param>
/// <param name="Chmod">--chmod, applied to copied files and directories (not to pre-existing ones).</param>
/// <param name="Include">A filter on source-relative paths below a copied directory (.dockerignore, --exclude); null copies all.</param>
public sealed record CopyOptions((uint Uid, uint Gid)? Owner, bool KeepSourceOwner, ChmodSpec? Chmod, Func<string, bool>? Include = null)
{
    /// <summary>Where the step's warnings go (entries skipped or changed on the way: devices that cannot be made here).</summary>
    public Action<string>? Warn { get; init; }
}

/// <summary>Copies files from a host tree into a rootfs directory with COPY's ownership and mode rules.</summary>
public static class FileCopier
{
    /// <summary>
    /// Copies <paramref name="source"/> (host path; a directory's contents, or a file/symlink) to <paramref name="destination"/>
    /// (host path already resolved inside the rootfs). <paramref name="sourceRelative"/> names the source for <see cref="CopyOptions.Include"/>.
    /// Files hard-linked to each other in the source are hard-linked in the copy too, as BuildKit's copier keeps them.
    /// </summary>
    public static void Copy(string source, string sourceRelative, string destination, CopyOptions options)
    {
        var st = Posix.LstatMeant(source);
        var links = new HardLinks();
        var route = new CopyRoute();
        if (st.IsDirectory)
        {
            var created = EnsureDirectory(destination, st, options, applyToExisting: false);
            CopyChildren(source, sourceRelative, destination, created, options, links, route);
            return;
        }
        CopyEntry(source, st, destination, fresh: false, options, links, route);
    }

    /// <summary>Where the first copy of each multiply-linked source file went, by (device, inode).</summary>
    private sealed class HardLinks : Dictionary<(ulong Device, ulong Inode), string>;

    /// <summary>Creates the directories of <paramref name="dir"/> (inside <paramref name="root"/>) that do not exist, owned as <paramref name="owner"/>.</summary>
    public static string MakeDirectories(string root, string dir, (uint Uid, uint Gid)? owner)
    {
        var parts = dir.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var current = "/";
        foreach (var p in parts)
        {
            current = current.TrimEnd('/') + "/" + p;
            var host = RootPath.Resolve(root, current);
            var st = Posix.TryLstat(host);
            if (st is { IsDirectory: true }) continue;
            if (st is not null) throw new IOException($"cannot create directory {current}: a file exists there");
            Directory.CreateDirectory(host);
            File.SetUnixFileMode(host, (UnixFileMode)0b111_101_101);
            var (uid, gid) = owner ?? (0, 0);
            Posix.Lchown(host, uid, gid);
        }
        return RootPath.Resolve(root, dir);
    }

    /// <param name="fresh">destDir was created by this copy: nothing in it can be in the way, so no entry is looked up first.</param>
    private static void CopyChildren(string sourceDir, string sourceRelative, string destDir, bool fresh, CopyOptions options, HardLinks links, CopyRoute route)
    {
        var names = Directory.EnumerateFileSystemEntries(sourceDir).Select(Path.GetFileName).ToList();
        names.Sort(StringComparer.Ordinal);
        foreach (var name in names)
        {
            var rel = sourceRelative.Length == 0 ? name! : sourceRelative + "/" + name;
            var src = Path.Combine(sourceDir, name!);
            var st = Posix.LstatMeant(src);
            bool include = options.Include?.Invoke(rel) ?? true;
            var dst = Path.Combine(destDir, name!);
            if (st.IsDirectory)
            {
                // An excluded directory is entered only if something below it could be re-included.
                if (!include && !Directory.EnumerateFileSystemEntries(src, "*", SearchOption.AllDirectories)
                        .Any(p => options.Include!(rel + "/" + Path.GetRelativePath(src, p).Replace('\\', '/')))) continue;
                var created = EnsureDirectory(dst, st, options, applyToExisting: true, fresh);
                CopyChildren(src, rel, dst, created, options, links, route);
            }
            else if (include)
            {
                CopyEntry(src, st, dst, fresh, options, links, route);
            }
        }
    }

    /// <summary>Makes <paramref name="dest"/> a directory with the source's mode, owner and mtime; true when it did not exist.</summary>
    private static bool EnsureDirectory(string dest, FileStat source, CopyOptions options, bool applyToExisting, bool parentFresh = false)
    {
        var existing = parentFresh ? null : Posix.TryLstat(dest);
        if (existing is { IsDirectory: true } && !applyToExisting) return false;
        if (existing is not null && !existing.Value.IsDirectory) File.Delete(dest);
        if (existing is not { IsDirectory: true }) Directory.CreateDirectory(dest);
        File.SetUnixFileMode(dest, (UnixFileMode)Mode(source, options, isDirectory: true));
        var (uid, gid) = Owner(source, options);
        Posix.Lchown(dest, uid, gid);
        Directory.SetLastWriteTimeUtc(dest, DateTimeOffset.FromUnixTimeMilliseconds(source.MtimeNs / 1_000_000).UtcDateTime);
        return existing is not { IsDirectory: true };
    }

    private static void CopyEntry(string src, FileStat st, string dest, bool fresh, CopyOptions options, HardLinks links, CopyRoute route)
    {
        var existing = fresh ? null : Posix.TryLstat(dest);
        if (existing is { IsDirectory: true }) Img.Fs.FileTree.RemoveTree(dest);
        else if (existing is not null) File.Delete(dest);
        if (st.IsRegular && st.Links > 1)
        {
            if (links.TryGetValue((st.Device, st.Inode), out var first))
            {
                Posix.Link(first, dest);
                return;
            }
            links[(st.Device, st.Inode)] = dest;
        }
        var (uid, gid) = Owner(st, options);
        if (st.IsSymlink)
        {
            File.CreateSymbolicLink(dest, new FileInfo(src).LinkTarget ?? "");
            Posix.Lchown(dest, uid, gid);
            return;
        }
        if (st.IsRegular)
        {
            // Plain open(2) (no flock per file, as File.Copy takes); owner, mode and mtime set on the open descriptor.
            // Times are whole milliseconds, as for directories.
            // Where img records owners (no user namespace), the record is written instead of a chown the kernel refuses.
            var recorded = Img.Runtime.Namespaces.Isolation.Current.RecordsOwners;
            FileContents.Copy(src, dest, (long)st.Size, route,
                new FileMetadata(Mode(st, options, isDirectory: false), st.MtimeNs / 1_000_000 * 1_000_000) { Owner = recorded ? null : (uid, gid) });
            if (recorded) Posix.Lchown(dest, uid, gid);
            return;
        }
        File.WriteAllBytes(dest, []); // a socket or fifo in the context becomes an empty file, as docker does
        File.SetUnixFileMode(dest, (UnixFileMode)Mode(st, options, isDirectory: false));
        Posix.Lchown(dest, uid, gid);
        // lchown clears setuid/setgid bits; put the requested mode back.
        File.SetUnixFileMode(dest, (UnixFileMode)Mode(st, options, isDirectory: false));
        File.SetLastWriteTimeUtc(dest, DateTimeOffset.FromUnixTimeMilliseconds(st.MtimeNs / 1_000_000).UtcDateTime);
    }

    private static uint Mode(FileStat st, CopyOptions options, bool isDirectory) =>
        options.Chmod is { } c ? c.Apply(st.Permissions, isDirectory) : st.Permissions;

    private static (uint, uint) Owner(FileStat st, CopyOptions options) =>
        options.Owner ?? (options.KeepSourceOwner ? (st.Uid, st.Gid) : (0u, 0u));
}
