using System.Buffers;
using Img.Content;
using Img.Oci;

namespace Img.Archive.Layers;

/// <summary>Where a layer is applied.</summary>
public enum ApplyMode
{
    /// <summary>
    /// Onto a merged directory holding the layers below (native snapshotter, unpack): whiteouts delete,
    /// opaque markers empty the directory of what lower layers put there.
    /// </summary>
    Merged,

    /// <summary>
    /// Into an empty overlayfs upper dir: whiteouts become character devices 0/0 and opaque markers set
    /// the overlay.opaque xattr to "y". When the kernel refuses mknod of a whiteout, applying fails with
    /// <see cref="OverlayWhiteoutException"/> and the caller falls back to a merged copy: the xattr form of
    /// whiteouts (overlay.whiteout) needs kernel 6.7+ and a specially marked parent, so it is not used.
    /// </summary>
    OverlayUpper,
}

/// <summary>How <see cref="LayerApplier"/> applies a layer.</summary>
public sealed record ApplyOptions
{
    /// <summary>Merged directory (default) or overlayfs upper dir.</summary>
    public ApplyMode Mode { get; init; } = ApplyMode.Merged;

    /// <summary>
    /// The overlay xattr namespace for <see cref="ApplyMode.OverlayUpper"/>: "user.overlay." for a
    /// userxattr mount (rootless, the default) or "trusted.overlay." for a mount made by real root.
    /// </summary>
    public string OverlayXattrPrefix { get; init; } = "user.overlay.";

    /// <summary>Set owners from the tar's uid/gid (default). Off: files belong to whoever applies.</summary>
    public bool PreserveOwnership { get; init; } = true;

    /// <summary>
    /// Every entry gets this owner instead of the tar's (<c>ADD --chown</c> of a local archive): entries only, so files
    /// that were already in the destination keep theirs.
    /// </summary>
    public (uint Uid, uint Gid)? Owner { get; init; }

    /// <summary>
    /// When lchown fails with EPERM/EINVAL (the id is not mapped in this user namespace), skip ownership
    /// of that entry with a warning (default) instead of failing. A skipped entry also loses setuid/setgid:
    /// those bits never stay on a file whose owner was changed.
    /// </summary>
    public bool SkipUnmappedOwnership { get; init; } = true;

    /// <summary>
    /// Owners (and device nodes) are recorded in each file's <see cref="OwnerRecord"/> instead of set on disk, for a user
    /// who can give files no other owner (no user namespace). Directories and files stay writable by that user.
    /// </summary>
    public bool RecordOwners { get; init; }

    /// <summary>When mknod of a device is refused (EPERM in a user namespace), skip it with a warning (default) instead of failing.</summary>
    public bool SkipForbiddenDevices { get; init; } = true;

    /// <summary>Treat every device node as forbidden without trying mknod (as inside a user namespace).</summary>
    public bool DevicesForbidden { get; init; }

    /// <summary>Refuse the layer once its files' declared sizes add up to more than this (a tar bomb bound).</summary>
    public long MaxTotalBytes { get; init; } = long.MaxValue;

    /// <summary>Refuse the layer past this many entries (bounds inode exhaustion by millions of empty files).</summary>
    public long MaxEntries { get; init; } = long.MaxValue;

    /// <summary>Use openat2(RESOLVE_IN_ROOT) when the kernel has it (default); false forces the portable component walk.</summary>
    public bool UseOpenat2 { get; init; } = true;

    /// <summary>Called for each warning as it happens (they are also returned in the result).</summary>
    public Action<string>? Warn { get; init; }
}

/// <summary>What applying a layer did.</summary>
/// <param name="DiffId">sha256 of the uncompressed tar as read (compare with the image config's diff_ids).</param>
/// <param name="Entries">Tar entries processed.</param>
/// <param name="Bytes">Regular-file bytes written.</param>
/// <param name="Warnings">Things skipped (unmapped owners, forbidden devices, trusted xattrs, invalid UTF-8 names).</param>
public sealed record ApplyResult(Digest DiffId, long Entries, long Bytes, IReadOnlyList<string> Warnings);

/// <summary>The kernel refused to create an overlay whiteout (character device 0/0) in an upper dir.</summary>
public sealed class OverlayWhiteoutException(string message) : IOException(message);

/// <summary>
/// Applies a layer tar (plain, gzip or zstd, sniffed) onto a directory. Every path is resolved inside the
/// root (see <see cref="RootedDirectory"/>): "../" that climbs out is refused, absolute names are taken
/// relative to the root, symlinks from this or earlier layers are followed only within the root, final
/// components are never followed, and hard link targets must resolve inside the root.
/// Names that are not valid UTF-8 are applied with U+FFFD in place of the bad bytes, with a warning.
/// </summary>
public static class LayerApplier
{
    /// <summary>Applies <paramref name="layer"/> (a blob stream, compressed or not; left open) onto <paramref name="rootDir"/>.</summary>
    public static async Task<ApplyResult> ApplyAsync(Stream layer, string rootDir, ApplyOptions? options = null, CancellationToken ct = default)
    {
        options ??= new ApplyOptions();
        // The caller owns the layer stream; the decompressor around it is ours to dispose.
        await using var tarStream = await LayerCompression.OpenDecompressingAsync(layer, leaveOpen: true, ct).ConfigureAwait(false);
        var hashing = new HashingStream(tarStream, leaveOpen: true);
        using var root = new RootedDirectory(rootDir, options.UseOpenat2);
        var run = new ApplyRun(root, options, ct);
        var reader = new TarStreamReader(hashing);
        while (await reader.NextAsync(ct).ConfigureAwait(false) is { } h)
        {
            if (reader.HasInvalidName) run.Warn($"entry name {h.Name} is not valid UTF-8; invalid bytes were replaced with U+FFFD");
            await run.ApplyEntryAsync(h, reader.Data).ConfigureAwait(false);
        }
        run.FinishDirectories();
        // The diffID covers the whole tar, including padding after the end-of-archive blocks.
        var buf = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try { while (await hashing.ReadAsync(buf, ct).ConfigureAwait(false) > 0) { } }
        finally { ArrayPool<byte>.Shared.Return(buf); }
        return new ApplyResult(hashing.GetDigest(), run.Entries, run.Bytes, run.Warnings);
    }

    /// <summary>
    /// Applies a stored layer blob onto <paramref name="rootDir"/>, its digest checked in the same pass: a blob
    /// damaged on disk fails as <see cref="CorruptBlobException"/> (and is removed from the store), also when the
    /// damage first shows as a decompression or tar error.
    /// </summary>
    public static async Task<ApplyResult> ApplyBlobAsync(ContentStore store, Digest blob, string rootDir, ApplyOptions? options = null, CancellationToken ct = default)
    {
        var verified = store.OpenRead(blob);
        await using (verified.ConfigureAwait(false))
        {
            // Synchronous reads through a large buffer: the decompressor pulls small pieces, and each asynchronous
            // file read would be a thread-pool hop.
            var buffered = new BufferedStream(verified, 1 << 20);
            ApplyResult result;
            try
            {
                result = await ApplyAsync(buffered, rootDir, options, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is LayerFormatException or InvalidDataException or EndOfStreamException or IOException && e is not OperationCanceledException)
            {
                // Bad bytes surface as a format error first: if the blob is not what its name says, say that instead.
                await verified.VerifyToEndAsync(ct).ConfigureAwait(false);
                throw;
            }
            await verified.VerifyToEndAsync(ct).ConfigureAwait(false);
            return result;
        }
    }

    /// <summary>Applies a layer file (compressed or not) onto <paramref name="rootDir"/>.</summary>
    public static async Task<ApplyResult> ApplyFileAsync(string layerPath, string rootDir, ApplyOptions? options = null, CancellationToken ct = default)
    {
        // Synchronous reads through a large buffer: the decompressor pulls small pieces, and each asynchronous file
        // read would be a thread-pool hop.
        var stream = new FileStream(layerPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
        await using (stream.ConfigureAwait(false))
            return await ApplyAsync(stream, rootDir, options, ct).ConfigureAwait(false);
    }
}
