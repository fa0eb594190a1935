using System.Formats.Tar;
using System.Text.Json;
using Img.Content;
using Img.Oci;

namespace Img.Archive.ImageArchive;

/// <summary>
/// Writes images as one tar that both <c>docker load</c> and OCI tools read: an OCI layout
/// (oci-layout, index.json, blobs/) plus docker's manifest.json. Blobs stream from the store;
/// each is written once even when several images share it.
/// </summary>
public static class ImageArchiveWriter
{
    public static async Task WriteAsync(Stream output, ContentStore store, IReadOnlyList<ArchiveImage> images, ArchiveFormat format, Platform platform, CancellationToken ct = default)
    {
        var indexEntries = new List<Descriptor>();
        var dockerEntries = new List<DockerArchiveManifest>();
        var blobs = new List<Descriptor>();

        foreach (var image in images)
        {
            var root = await ChooseRootAsync(store, image.Target, platform, ct).ConfigureAwait(false);
            blobs.AddRange(await ContentWalker.WalkAsync(store, root, onlyPresent: false, ct).ConfigureAwait(false));

            indexEntries.Add(root with
            {
                Annotations = new Dictionary<string, string>
                {
                    [Annotations.ContainerdImageName] = image.Name.ToString(),
                    [Annotations.RefName] = image.Name.Tag ?? image.Name.Digest?.ToString() ?? Reference.DefaultTag,
                },
                Platform = null,
            });

            var manifestDesc = await ContentWalker.SelectManifestAsync(store, root, platform, ct).ConfigureAwait(false);
            if (manifestDesc is null)
            {
                // A multi-platform image without this platform: index.json carries it whole; docker's manifest.json cannot.
                if (MediaTypes.IsIndex(root.MediaType)) continue;
                throw new InvalidOperationException($"image {image.Name} has no manifest for {platform}");
            }
            var manifest = await ContentWalker.ReadManifestAsync(store, manifestDesc, ct).ConfigureAwait(false);
            dockerEntries.Add(DockerEntry(manifest, format == ArchiveFormat.Docker && image.Name.Tag is not null ? [image.Name.Familiar] : null));
        }
        await WriteLayoutAsync(output, store, blobs, indexEntries, dockerEntries, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Writes the image rooted at <paramref name="root"/> with no name, as BuildKit does for <c>-o type=docker|oci</c>
    /// without <c>name=</c>: the index entry carries no name annotation and manifest.json's RepoTags is null (no entry
    /// when <paramref name="platform"/> has no manifest), so loading it names nothing.
    /// </summary>
    public static async Task WriteUnnamedAsync(Stream output, ContentStore store, Descriptor root, Platform platform, CancellationToken ct = default)
    {
        var blobs = await ContentWalker.WalkAsync(store, root, onlyPresent: false, ct).ConfigureAwait(false);
        var manifestDesc = await ContentWalker.SelectManifestAsync(store, root, platform, ct).ConfigureAwait(false);
        var manifest = manifestDesc is null ? null : await ContentWalker.ReadManifestAsync(store, manifestDesc, ct).ConfigureAwait(false);
        await WriteLayoutAsync(output, store, blobs, [root with { Annotations = null, Platform = null }],
            manifest is null ? [] : [DockerEntry(manifest, null)], ct).ConfigureAwait(false);
    }

    private static DockerArchiveManifest DockerEntry(Manifest manifest, List<string>? repoTags) => new()
    {
        Config = OciLayoutWriter.BlobName(manifest.Config.Digest),
        RepoTags = repoTags,
        Layers = manifest.Layers.Select(l => OciLayoutWriter.BlobName(l.Digest)).ToList(),
    };

    private static async Task WriteLayoutAsync(Stream output, ContentStore store, IReadOnlyList<Descriptor> blobs, List<Descriptor> indexEntries,
        List<DockerArchiveManifest> dockerEntries, CancellationToken ct)
    {
        var tar = new TarWriter(output, TarEntryFormat.Ustar, leaveOpen: true);
        await using (tar.ConfigureAwait(false))
        {
            var target = new TarLayoutTarget(tar);
            await target.WriteBlobDirectoriesAsync(blobs.Select(b => b.Digest.Algorithm).Distinct(), ct).ConfigureAwait(false);
            var layout = new OciLayoutWriter(target);
            await layout.WriteBlobsAsync(store, blobs, ct).ConfigureAwait(false);
            await layout.WriteIndexAsync(new ImageIndex { Manifests = indexEntries }, ct).ConfigureAwait(false);
            await layout.WriteFileAsync("manifest.json", JsonSerializer.SerializeToUtf8Bytes(dockerEntries, ArchiveJsonContext.Default.ListDockerArchiveManifest), ct)
                .ConfigureAwait(false);
            await layout.WriteMarkerAsync(ct).ConfigureAwait(false);
        }
    }

    /// <summary>An index whose platforms are not all stored cannot be saved whole: save the platform's manifest.</summary>
    private static async Task<Descriptor> ChooseRootAsync(ContentStore store, Descriptor target, Platform platform, CancellationToken ct)
    {
        if (!MediaTypes.IsIndex(target.MediaType)) return target;
        var children = await ContentWalker.ChildrenAsync(store, target, ct).ConfigureAwait(false);
        if (children.All(c => store.Exists(c.Digest))) return target;
        return await ContentWalker.SelectManifestAsync(store, target, platform, ct).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"no manifest for {platform} is stored");
    }
}
