using System.Formats.Tar;
using System.Text.Json;
using Img.Content;
using Img.Oci;

namespace Img.Build;

/// <summary>
/// Writes a build result that has no name as an image archive (OCI layout plus docker's manifest.json), as
/// BuildKit does for <c>-o type=docker|oci</c> without <c>name=</c>: the index entry carries no name
/// annotation and manifest.json's RepoTags is null, so loading it names nothing.
/// </summary>
internal static class UnnamedArchiveWriter
{
    private const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private const UnixFileMode DirMode = FileMode | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    /// <summary>Writes the image rooted at <paramref name="root"/>: a manifest, or an index whose manifest.json entry is the host's image (none without one).</summary>
    public static async Task WriteAsync(Stream output, ContentStore store, Descriptor root, CancellationToken ct)
    {
        var blobs = await ContentWalker.WalkAsync(store, root, onlyPresent: false, ct).ConfigureAwait(false);
        var manifestDesc = await ContentWalker.SelectManifestAsync(store, root, Platform.Host, ct).ConfigureAwait(false);
        var manifest = manifestDesc is null ? null : await ContentWalker.ReadManifestAsync(store, manifestDesc, ct).ConfigureAwait(false);

        var tar = new TarWriter(output, TarEntryFormat.Ustar, leaveOpen: true);
        await using (tar.ConfigureAwait(false))
        {
            await WriteDirAsync(tar, "blobs/", ct).ConfigureAwait(false);
            foreach (var alg in blobs.Select(b => b.Digest.Algorithm).Distinct())
                await WriteDirAsync(tar, $"blobs/{alg}/", ct).ConfigureAwait(false);
            foreach (var blob in blobs.DistinctBy(b => b.Digest))
            {
                var data = store.OpenRead(blob.Digest);
                await using (data.ConfigureAwait(false))
                {
                    await tar.WriteEntryAsync(new UstarTarEntry(TarEntryType.RegularFile, BlobName(blob.Digest))
                    {
                        DataStream = data, ModificationTime = DateTimeOffset.UnixEpoch, Mode = FileMode,
                    }, ct).ConfigureAwait(false);
                }
            }
            var index = new ImageIndex { MediaType = MediaTypes.OciIndex, Manifests = [root with { Annotations = null, Platform = null }] };
            await WriteFileAsync(tar, "index.json", OciJson.Serialize(index), ct).ConfigureAwait(false);
            await WriteFileAsync(tar, "manifest.json", DockerManifestJson(manifest), ct).ConfigureAwait(false);
            await WriteFileAsync(tar, "oci-layout", """{"imageLayoutVersion":"1.0.0"}"""u8.ToArray(), ct).ConfigureAwait(false);
        }
    }

    private static byte[] DockerManifestJson(Manifest? manifest)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartArray();
            if (manifest is null)
            {
                w.WriteEndArray();
                w.Flush();
                return ms.ToArray();
            }
            w.WriteStartObject();
            w.WriteString("Config", BlobName(manifest.Config.Digest));
            w.WriteNull("RepoTags");
            w.WriteStartArray("Layers");
            foreach (var l in manifest.Layers) w.WriteStringValue(BlobName(l.Digest));
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndArray();
        }
        return ms.ToArray();
    }

    private static string BlobName(Digest d) => $"blobs/{d.Algorithm}/{d.Hex}";

    private static Task WriteDirAsync(TarWriter tar, string name, CancellationToken ct) =>
        tar.WriteEntryAsync(new UstarTarEntry(TarEntryType.Directory, name) { ModificationTime = DateTimeOffset.UnixEpoch, Mode = DirMode }, ct);

    private static async Task WriteFileAsync(TarWriter tar, string name, byte[] data, CancellationToken ct)
    {
        using var ms = new MemoryStream(data, writable: false);
        await tar.WriteEntryAsync(new UstarTarEntry(TarEntryType.RegularFile, name)
        {
            DataStream = ms, ModificationTime = DateTimeOffset.UnixEpoch, Mode = FileMode,
        }, ct).ConfigureAwait(false);
    }
}
