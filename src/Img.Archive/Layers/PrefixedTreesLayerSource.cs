namespace Img.Archive.Layers;

/// <summary>
/// Several directory trees in one tar, each under a top-level directory of its own (a multi-platform rootfs tar:
/// <c>linux_amd64/…</c>, <c>linux_arm64/…</c>). Each top-level entry takes its tree root's owner, mode and time.
/// </summary>
public sealed class PrefixedTreesLayerSource(IReadOnlyList<(string Prefix, string Root)> trees, WriteOptions? options = null) : ILayerSource
{
    /// <inheritdoc />
    public async Task WriteEntriesAsync(TarStreamWriter tar, CancellationToken ct = default)
    {
        var files = new FileEntryWriter(options ?? new WriteOptions());
        foreach (var (prefix, root) in trees)
        {
            if (prefix.Length == 0 || prefix.Contains('/', StringComparison.Ordinal))
                throw new ArgumentException($"prefix \"{prefix}\" must be one non-empty path component", nameof(trees));
            if (Native.Lstat(root) is not { IsDir: true } st) throw new DirectoryNotFoundException($"layer source {root} is not a directory");
            await files.WriteAsync(tar, root, prefix, st, ct).ConfigureAwait(false);
            await DirectoryLayerSource.WalkAsync(tar, files, root, prefix, ct).ConfigureAwait(false);
        }
    }
}
