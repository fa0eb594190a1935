using Img.Build.CacheSharing;
using Img.Content;
using Img.Oci;

namespace Img.Build;

/// <summary>
/// Copies an image out of an OCI layout directory (<c>--build-context NAME=oci-layout://DIR[:TAG|@DIGEST]</c>) into
/// the content store: the tagged (or named) entry, and for the platform asked for its manifest, config and layers,
/// each verified against its digest on the way in.
/// </summary>
internal static class OciLayoutImport
{
    /// <summary>The stored entry: an index or a manifest, with what <paramref name="platform"/> needs below it.</summary>
    /// <exception cref="InvalidDataException">No such tag or digest, a missing blob, or a blob that fails verification.</exception>
    public static async Task<Descriptor> ImportAsync(string directory, string? selector, Platform platform, ContentStore content, CancellationToken ct)
    {
        var layout = new OciLayoutDir(directory);
        var index = layout.ReadIndex(mustExist: true);
        Descriptor entry;
        if (selector is not null && Digest.TryParse(selector, out var digest))
        {
            entry = index.Manifests.FirstOrDefault(m => m.Digest == digest) ?? Probe(layout, digest);
        }
        else
        {
            var tag = selector ?? "latest";
            entry = OciLayoutDir.Find(index, tag) ?? throw new InvalidDataException($"no image tagged \"{tag}\" in {directory}");
        }
        var source = new LayoutCacheSource(layout);
        await source.FetchAsync(entry, content, ct).ConfigureAwait(false);
        if (MediaTypes.IsIndex(entry.MediaType))
        {
            foreach (var child in await ContentWalker.ChildrenAsync(content, entry, ct).ConfigureAwait(false))
                if (child.Platform is null || platform.Matches(child.Platform))
                    await source.FetchAsync(child, content, ct).ConfigureAwait(false);
        }
        if (await ContentWalker.SelectManifestAsync(content, entry, platform, ct).ConfigureAwait(false) is { } manifestDesc)
        {
            var manifest = await ContentWalker.ReadManifestAsync(content, manifestDesc, ct).ConfigureAwait(false);
            await source.FetchAsync(manifest.Config, content, ct).ConfigureAwait(false);
            foreach (var layer in manifest.Layers) await source.FetchAsync(layer, content, ct).ConfigureAwait(false);
        }
        return entry;
    }

    /// <summary>A digest not listed in index.json: its descriptor from the blob itself.</summary>
    private static Descriptor Probe(OciLayoutDir layout, Digest digest)
    {
        byte[] bytes;
        try
        {
            using var blob = layout.OpenBlob(digest);
            if (blob.Length > Img.Registry.RegistryClient.MaxManifestSize) throw new InvalidDataException($"{digest} in {layout.Directory} is not an image manifest or index");
            using var copy = new MemoryStream();
            blob.CopyTo(copy);
            bytes = copy.ToArray();
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new InvalidDataException($"no image {digest} in {layout.Directory}");
        }
        var mediaType = OciJson.Deserialize<MediaTypeProbe>(bytes).MediaType ?? MediaTypes.OciManifest;
        return new Descriptor { MediaType = mediaType, Digest = digest, Size = bytes.Length };
    }
}
