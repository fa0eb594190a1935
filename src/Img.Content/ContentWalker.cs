using Img.Oci;

namespace Img.Content;

/// <summary>Follows the links between stored OCI documents: index → manifests → config and layers.</summary>
public static class ContentWalker
{
    /// <summary>The descriptors a manifest or index points at (none for blobs that are not documents).</summary>
    public static async Task<IReadOnlyList<Descriptor>> ChildrenAsync(ContentStore store, Descriptor desc, CancellationToken ct = default)
    {
        if (MediaTypes.IsIndex(desc.MediaType))
        {
            var index = OciJson.Deserialize<ImageIndex>(await store.ReadAllBytesAsync(desc.Digest, ct).ConfigureAwait(false));
            return index.Manifests;
        }
        if (MediaTypes.IsManifest(desc.MediaType))
        {
            var manifest = OciJson.Deserialize<Manifest>(await store.ReadAllBytesAsync(desc.Digest, ct).ConfigureAwait(false));
            return [manifest.Config, .. manifest.Layers];
        }
        return [];
    }

    /// <summary>Every descriptor reachable from <paramref name="root"/>, the root included.</summary>
    /// <param name="onlyPresent">Skip children that are not stored (an index whose other platforms were not pulled).</param>
    public static async Task<List<Descriptor>> WalkAsync(ContentStore store, Descriptor root, bool onlyPresent = true, CancellationToken ct = default)
    {
        var seen = new HashSet<Digest>();
        var result = new List<Descriptor>();
        var stack = new Stack<Descriptor>();
        stack.Push(root);
        while (stack.Count > 0)
        {
            var d = stack.Pop();
            if (!seen.Add(d.Digest)) continue;
            if (!store.Exists(d.Digest))
            {
                if (onlyPresent && d != root) continue;
                throw new BlobNotFoundException(d.Digest);
            }
            result.Add(d);
            foreach (var c in await ChildrenAsync(store, d, ct).ConfigureAwait(false))
                stack.Push(c);
        }
        return result;
    }

    /// <summary>The manifest for a platform: the root itself, or the best match in an index.</summary>
    public static async Task<Descriptor?> SelectManifestAsync(ContentStore store, Descriptor root, Platform platform, CancellationToken ct = default)
    {
        if (MediaTypes.IsManifest(root.MediaType)) return root;
        if (!MediaTypes.IsIndex(root.MediaType)) return null;
        var index = OciJson.Deserialize<ImageIndex>(await store.ReadAllBytesAsync(root.Digest, ct).ConfigureAwait(false));
        Descriptor? best = null;
        int bestRank = int.MaxValue;
        foreach (var m in index.Manifests)
        {
            if (m.Platform is null && index.Manifests.Count == 1 && MediaTypes.IsManifest(m.MediaType)) return m;
            if (!platform.Matches(m.Platform)) continue;
            int rank = platform.Rank(m.Platform!);
            if (rank < bestRank && store.Exists(m.Digest)) { best = m; bestRank = rank; }
        }
        if (best is not null && MediaTypes.IsIndex(best.MediaType))
            return await SelectManifestAsync(store, best, platform, ct).ConfigureAwait(false);
        return best;
    }

    public static async Task<Manifest> ReadManifestAsync(ContentStore store, Descriptor desc, CancellationToken ct = default) =>
        OciJson.Deserialize<Manifest>(await store.ReadAllBytesAsync(desc.Digest, ct).ConfigureAwait(false));

    public static async Task<ImageConfig> ReadConfigAsync(ContentStore store, Descriptor desc, CancellationToken ct = default) =>
        OciJson.Deserialize<ImageConfig>(await store.ReadAllBytesAsync(desc.Digest, ct).ConfigureAwait(false));
}
