using System.IO.Compression;
using System.Security.Cryptography;
using Img.Content;
using Img.Oci;

namespace Img.Archive.ImageArchive;

/// <summary>
/// Makes a one-layer image from a root filesystem tarball, as <c>docker import</c> does: the tar
/// is digested (the layer's diffID), gzip-compressed and digested again in a single pass.
/// </summary>
public static class RootfsImporter
{
    public static async Task<Descriptor> ImportAsync(Stream tar, ContentStore store, Platform platform, ImportOptions options, CancellationToken ct = default)
    {
        var source = await DecompressingStream.OpenAsync(tar, ct).ConfigureAwait(false);
        using var diffHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Digest layerDigest;
        long layerSize;
        await using (var blob = store.CreateWriter())
        {
            await using (var gzip = new GZipStream(blob, CompressionLevel.Fastest, leaveOpen: true))
            {
                var buffer = new byte[1 << 20];
                long total = 0;
                int n;
                while ((n = await source.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
                {
                    diffHash.AppendData(buffer, 0, n);
                    await gzip.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                    total += n;
                }
                if (total == 0) throw new InvalidArchiveException("import: the rootfs tarball is empty");
            }
            (layerDigest, layerSize) = await blob.CommitAsync(ct: ct).ConfigureAwait(false);
        }
        var diffId = Digest.FromSha256(diffHash.GetHashAndReset());
        var created = options.Created ?? DateTimeOffset.UtcNow;
        var config = new ImageConfig
        {
            Created = created,
            Architecture = platform.Architecture,
            Variant = platform.Variant,
            OS = platform.OS,
            Config = options.Config ?? new ContainerConfig { Env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] },
            RootFs = new RootFs { DiffIds = [diffId] },
            History = [new History { Created = created, CreatedBy = "img import", Comment = options.Message }],
        };
        var configDesc = await store.WriteBytesAsync(OciJson.Serialize(config), MediaTypes.OciConfig, ct).ConfigureAwait(false);
        var manifest = new Manifest
        {
            MediaType = MediaTypes.OciManifest,
            Config = configDesc,
            Layers = [new Descriptor(MediaTypes.OciLayerGzip, layerDigest, layerSize)],
        };
        return await store.WriteBytesAsync(OciJson.Serialize(manifest), MediaTypes.OciManifest, ct).ConfigureAwait(false);
    }
}

public sealed record ImportOptions
{
    public ContainerConfig? Config { get; init; }
    public string? Message { get; init; }
    public DateTimeOffset? Created { get; init; }
}

/// <summary>Opens a possibly gzip-compressed stream for reading its plain bytes.</summary>
internal static class DecompressingStream
{
    public static async Task<Stream> OpenAsync(Stream input, CancellationToken ct)
    {
        var head = new byte[2];
        int n = await input.ReadAtLeastAsync(head, 2, throwOnEndOfStream: false, ct).ConfigureAwait(false);
        var prefixed = new PrefixStream(head.AsMemory(0, n), input);
        return n == 2 && head[0] == 0x1f && head[1] == 0x8b ? new GZipStream(prefixed, CompressionMode.Decompress) : prefixed;
    }
}
