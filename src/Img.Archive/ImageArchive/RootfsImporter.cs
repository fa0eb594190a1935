using Img.Archive.Layers;
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
        // One pass: plain tar -> diffID hash -> parallel gzip -> blob (which digests what it stores).
        await using var source = await LayerCompression.OpenDecompressingAsync(tar, leaveOpen: true, ct).ConfigureAwait(false);
        await using var blob = store.CreateWriter();
        await using var diffHash = new HashingStream(source, leaveOpen: true);
        await using (var compressed = LayerCompression.OpenCompressing(blob, Compression.Gzip))
            await diffHash.CopyToAsync(compressed, 1 << 20, ct).ConfigureAwait(false);
        if (diffHash.BytesHashed == 0) throw new InvalidArchiveException("import: the rootfs tarball is empty");
        var (layerDigest, layerSize) = await blob.CommitAsync(ct: ct).ConfigureAwait(false);
        var diffId = diffHash.GetDigest();
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
