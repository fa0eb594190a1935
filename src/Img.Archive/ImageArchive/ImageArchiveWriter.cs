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
    private static readonly DateTimeOffset Epoch = DateTimeOffset.UnixEpoch;

    public static async Task WriteAsync(Stream output, ContentStore store, IReadOnlyList<ArchiveImage> images, ArchiveFormat format, Platform platform, CancellationToken ct = default)
    {
        var indexEntries = new List<Descriptor>();
        var dockerEntries = new List<DockerArchiveManifest>();
        var blobs = new List<Descriptor>();
        var seen = new HashSet<Digest>();

        foreach (var image in images)
        {
            var root = await ChooseRootAsync(store, image.Target, platform, ct).ConfigureAwait(false);
            foreach (var d in await ContentWalker.WalkAsync(store, root, onlyPresent: false, ct).ConfigureAwait(false))
                if (seen.Add(d.Digest)) blobs.Add(d);

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
            dockerEntries.Add(new DockerArchiveManifest
            {
                Config = BlobName(manifest.Config.Digest),
                RepoTags = format == ArchiveFormat.Docker && image.Name.Tag is not null ? [image.Name.Familiar] : null,
                Layers = manifest.Layers.Select(l => BlobName(l.Digest)).ToList(),
            });
        }

        await using var tar = new TarWriter(output, TarEntryFormat.Ustar, leaveOpen: true);
        await WriteDirAsync(tar, "blobs/", ct).ConfigureAwait(false);
        foreach (var alg in blobs.Select(b => b.Digest.Algorithm).Distinct())
            await WriteDirAsync(tar, $"blobs/{alg}/", ct).ConfigureAwait(false);
        foreach (var blob in blobs)
        {
            await using var data = store.OpenRead(blob.Digest);
            var entry = new UstarTarEntry(TarEntryType.RegularFile, BlobName(blob.Digest))
            {
                DataStream = data,
                ModificationTime = Epoch,
                Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
            };
            await tar.WriteEntryAsync(entry, ct).ConfigureAwait(false);
        }
        var index = new ImageIndex { MediaType = MediaTypes.OciIndex, Manifests = indexEntries };
        await WriteFileAsync(tar, "index.json", OciJson.Serialize(index), ct).ConfigureAwait(false);
        await WriteFileAsync(tar, "manifest.json", JsonSerializer.SerializeToUtf8Bytes(dockerEntries, ArchiveJsonContext.Default.ListDockerArchiveManifest), ct).ConfigureAwait(false);
        await WriteFileAsync(tar, "oci-layout", JsonSerializer.SerializeToUtf8Bytes(new OciLayoutFile(), ArchiveJsonContext.Default.OciLayoutFile), ct).ConfigureAwait(false);
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

    internal static string BlobName(Digest d) => $"blobs/{d.Algorithm}/{d.Hex}";

    private static Task WriteDirAsync(TarWriter tar, string name, CancellationToken ct) =>
        tar.WriteEntryAsync(new UstarTarEntry(TarEntryType.Directory, name)
        {
            ModificationTime = Epoch,
            Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute,
        }, ct);

    private static async Task WriteFileAsync(TarWriter tar, string name, byte[] data, CancellationToken ct)
    {
        using var ms = new MemoryStream(data, writable: false);
        await tar.WriteEntryAsync(new UstarTarEntry(TarEntryType.RegularFile, name)
        {
            DataStream = ms,
            ModificationTime = Epoch,
            Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
        }, ct).ConfigureAwait(false);
    }
}
