using System.Security.Cryptography;
using Img.Archive.Layers;

namespace Img.Build;

/// <summary>
/// <c>ADD --chown</c> of a local archive: only the archive's entries get the owner, never files that were already
/// in the destination. The archive is applied into a staging directory beside the destination (same filesystem,
/// so moves are renames; created and removed within the step, it leaves nothing in the layer), chowned there,
/// then merged into the destination: existing directories take the archive's mode, owner and mtime, anything
/// else the archive holds replaces what was there.
/// </summary>
internal static class OwnedArchiveExtractor
{
    public static async Task ExtractAsync(string archive, string destDir, (uint Uid, uint Gid) owner, ApplyOptions options, CancellationToken ct)
    {
        var staging = Path.Combine(destDir, ".img-add-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)));
        Directory.CreateDirectory(staging);
        try
        {
            await LayerApplier.ApplyFileAsync(archive, staging, options, ct).ConfigureAwait(false);
            foreach (var p in Directory.EnumerateFileSystemEntries(staging, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
            {
                var st = Posix.Lstat(p);
                Posix.Lchown(p, owner.Uid, owner.Gid);
                // chown clears setuid/setgid; the archive's mode stands.
                if (!st.IsSymlink && (st.Permissions & 0xC00) != 0) File.SetUnixFileMode(p, (UnixFileMode)st.Permissions);
            }
            Merge(staging, destDir);
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, true);
        }
    }

    private static void Merge(string from, string into)
    {
        foreach (var child in Directory.EnumerateFileSystemEntries(from).ToList())
        {
            var target = Path.Combine(into, Path.GetFileName(child));
            var src = Posix.Lstat(child);
            var existing = Posix.TryLstat(target);
            if (src.IsDirectory && existing is { IsDirectory: true })
            {
                Merge(child, target);
                // The entry is the archive's: its metadata wins over the directory that was there.
                Posix.Lchown(target, src.Uid, src.Gid);
                File.SetUnixFileMode(target, (UnixFileMode)src.Permissions);
                Directory.SetLastWriteTimeUtc(target, Directory.GetLastWriteTimeUtc(child));
                Directory.Delete(child);
                continue;
            }
            if (existing is { IsDirectory: true }) Directory.Delete(target, true);
            else if (existing is not null) File.Delete(target);
            if (src.IsDirectory) Directory.Move(child, target);
            else File.Move(child, target);
        }
    }
}
