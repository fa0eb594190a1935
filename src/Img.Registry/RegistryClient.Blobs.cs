using Img.Content;
using Img.Oci;

namespace Img.Registry;

public sealed partial class RegistryClient
{
    /// <summary>
    /// Fetches one blob of <paramref name="repository"/> into <paramref name="store"/>, verified against its digest
    /// and size (resumed and retried like a pull's blobs); nothing is fetched when the store already holds it.
    /// For content that is not a whole image, e.g. a build cache's config and the layers it names.
    /// </summary>
    public async Task PullBlobAsync(Reference repository, Descriptor blob, ContentStore store, CancellationToken ct = default)
    {
        var transport = await TransportAsync(repository.RegistryHost, null, ct).ConfigureAwait(false);
        await FetchBlobAsync(transport, repository, blob, store, null, ct).ConfigureAwait(false);
    }
}
