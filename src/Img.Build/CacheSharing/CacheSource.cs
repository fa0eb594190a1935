using Img.Content;
using Img.Oci;
using Img.Registry;

namespace Img.Build.CacheSharing;

/// <summary>
/// Where an imported cache's layer blobs come from. A source that failed once (a missing or corrupt blob, the
/// registry gone) is <see cref="Broken"/> for the rest of the build: one warning, then the steps simply run.
/// </summary>
internal abstract class CacheSource(string display)
{
    private int _broken;

    /// <summary>How progress names it: the reference or the directory.</summary>
    public string Display { get; } = display;

    public bool Broken => Volatile.Read(ref _broken) != 0;

    /// <summary>Marks the source broken; true for the first caller only (who prints the warning).</summary>
    public bool Break() => Interlocked.Exchange(ref _broken, 1) == 0;

    /// <summary>Puts <paramref name="blob"/> into <paramref name="store"/>, verified against its digest and size.</summary>
    public async Task FetchAsync(Descriptor blob, ContentStore store, CancellationToken ct)
    {
        if (store.SizeOf(blob.Digest) == blob.Size) return;
        await FetchMissingAsync(blob, store, ct).ConfigureAwait(false);
    }

    protected abstract Task FetchMissingAsync(Descriptor blob, ContentStore store, CancellationToken ct);
}

/// <summary>Blobs of a registry repository.</summary>
internal sealed class RegistryCacheSource(RegistryClient client, Reference repository) : CacheSource(repository.ToString())
{
    protected override Task FetchMissingAsync(Descriptor blob, ContentStore store, CancellationToken ct) =>
        client.PullBlobAsync(repository, blob, store, ct);
}

/// <summary>Blobs of an OCI image layout directory.</summary>
internal sealed class LayoutCacheSource(OciLayoutDir layout) : CacheSource(layout.Directory)
{
    protected override async Task FetchMissingAsync(Descriptor blob, ContentStore store, CancellationToken ct)
    {
        Stream file;
        try { file = layout.OpenBlob(blob.Digest); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new InvalidDataException($"blob {blob.Digest} is missing from {layout.Directory}");
        }
        await using (file.ConfigureAwait(false))
        {
            try { await store.IngestAsync(file, blob.MediaType, blob.Digest, blob.Size, ct).ConfigureAwait(false); }
            catch (DigestMismatchException e) { throw new InvalidDataException($"blob {blob.Digest} in {layout.Directory} failed verification: {e.Message}", e); }
        }
    }
}
