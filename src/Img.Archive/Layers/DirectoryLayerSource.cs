namespace Img.Archive.Layers;

/// <summary>Every file under a directory as a layer (the root itself is not an entry, as in docker's layers).</summary>
public sealed class DirectoryLayerSource(string root, WriteOptions? options = null) : ILayerSource
{
    /// <inheritdoc />
    public async Task WriteEntriesAsync(TarStreamWriter tar, CancellationToken ct = default)
    {
        if (Native.Lstat(root) is not { IsDir: true }) throw new DirectoryNotFoundException($"layer source {root} is not a directory");
        var files = new FileEntryWriter(options ?? new WriteOptions());
        await WalkAsync(tar, files, root, "", ct).ConfigureAwait(false);
    }

    /// <summary>Writes every entry below <paramref name="dir"/> as <paramref name="rel"/>/…, sorted, parents before children.</summary>
    internal static async Task WalkAsync(TarStreamWriter tar, FileEntryWriter files, string dir, string rel, CancellationToken ct)
    {
        foreach (var name in FileEntryWriter.ListSorted(dir))
        {
            ct.ThrowIfCancellationRequested();
            var full = Path.Combine(dir, name);
            var entry = FileEntryWriter.Join(rel, name);
            if (Native.Lstat(full) is not { } st) continue; // removed while walking
            await files.WriteAsync(tar, full, entry, st, ct).ConfigureAwait(false);
            if (st.IsDir) await WalkAsync(tar, files, full, entry, ct).ConfigureAwait(false);
        }
    }
}
