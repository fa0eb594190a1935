using Img.Oci;

namespace Img.Archive.Layers;

/// <summary>Something that can write a layer's entries: a whole tree, an overlay upper dir, or the difference of two trees.</summary>
public interface ILayerSource
{
    /// <summary>Writes every entry of the layer, in a deterministic order, parents before children.</summary>
    Task WriteEntriesAsync(TarStreamWriter tar, CancellationToken ct = default);
}

/// <summary>What one pass of <see cref="LayerWriter.WriteLayerAsync"/> produced.</summary>
/// <param name="DiffId">sha256 of the uncompressed tar (the image config's rootfs.diff_ids entry).</param>
/// <param name="Digest">sha256 of the blob as written (the manifest's layer digest).</param>
/// <param name="Size">Bytes written to the destination.</param>
/// <param name="UncompressedSize">Bytes of the uncompressed tar.</param>
/// <param name="Compression">How the blob is compressed.</param>
public sealed record LayerWriteResult(Digest DiffId, Digest Digest, long Size, long UncompressedSize, Compression Compression)
{
    /// <summary>The layer media type for this compression, in the OCI or Docker family.</summary>
    public string MediaType(bool oci) => MediaTypes.Layer(Compression, oci);

    /// <summary>A descriptor for the written blob.</summary>
    public Descriptor ToDescriptor(bool oci) => new() { MediaType = MediaType(oci), Digest = Digest, Size = Size };
}

/// <summary>Writes layers in one streaming pass: tar → diffID hash → compressor → blob hash → destination.</summary>
public static class LayerWriter
{
    /// <summary>
    /// Writes the entries of <paramref name="source"/> as a layer blob into <paramref name="destination"/>
    /// (a content-store BlobWriter or any stream; left open and not committed), computing both digests on the way.
    /// </summary>
    public static async Task<LayerWriteResult> WriteLayerAsync(ILayerSource source, Stream destination, Compression compression,
        CompressionOptions? options = null, CancellationToken ct = default)
    {
        var blob = new HashingStream(destination, leaveOpen: true);
        await using (blob.ConfigureAwait(false))
        {
            var compressor = LayerCompression.OpenCompressing(blob, compression, options);
            HashingStream tarHash;
            await using (compressor.ConfigureAwait(false))
            {
                // Small header writes are gathered before they reach the hash and the compressor.
                tarHash = new HashingStream(compressor, leaveOpen: true);
                await using (tarHash.ConfigureAwait(false))
                {
                    var buffered = new BufferedStream(tarHash, 256 * 1024);
                    await using (buffered.ConfigureAwait(false))
                    {
                        var tar = new TarStreamWriter(buffered);
                        await source.WriteEntriesAsync(tar, ct).ConfigureAwait(false);
                        await tar.CloseAsync(ct).ConfigureAwait(false);
                        await buffered.FlushAsync(ct).ConfigureAwait(false);
                    }
                }
            }
            await blob.FlushAsync(ct).ConfigureAwait(false);
            return new LayerWriteResult(tarHash.GetDigest(), blob.GetDigest(), blob.BytesHashed, tarHash.BytesHashed, compression);
        }
    }

    /// <summary>Writes a whole directory tree as a layer (a rootfs, or files COPY'd into scratch).</summary>
    public static Task<LayerWriteResult> WriteTreeAsync(string root, Stream destination, Compression compression,
        WriteOptions? options = null, CancellationToken ct = default) =>
        WriteLayerAsync(new DirectoryLayerSource(root, options), destination, compression, options?.Compression, ct);

    /// <summary>Writes an overlayfs upper dir as a layer, converting whiteouts and opaque dirs to OCI form.</summary>
    public static Task<LayerWriteResult> WriteOverlayUpperAsync(string upperDir, Stream destination, Compression compression,
        WriteOptions? options = null, CancellationToken ct = default) =>
        WriteLayerAsync(new OverlayUpperLayerSource(upperDir, options), destination, compression, options?.Compression, ct);

    /// <summary>Writes the changes from <paramref name="lowerDir"/> to <paramref name="upperDir"/> as a layer.</summary>
    public static Task<LayerWriteResult> WriteTreeDiffAsync(string lowerDir, string upperDir, Stream destination, Compression compression,
        WriteOptions? options = null, CancellationToken ct = default) =>
        WriteLayerAsync(new TreeDiffLayerSource(lowerDir, upperDir, options), destination, compression, options?.Compression, ct);
}

/// <summary>How layer entries are produced from files.</summary>
public sealed record WriteOptions
{
    /// <summary>SOURCE_DATE_EPOCH: mtimes later than this (seconds) are written as this.</summary>
    public long? ClampMtime { get; init; }
    /// <summary>Write extended attributes (default true). Overlay-private and SELinux labels are never written.</summary>
    public bool IncludeXattrs { get; init; } = true;
    /// <summary>Compression level and threads.</summary>
    public CompressionOptions? Compression { get; init; }
    /// <summary>
    /// Owners are img's records (<see cref="OwnerRecord"/>), not the disk's: a file without a record is root's, as a
    /// step running as fake root made it (every file on disk belongs to the user running img).
    /// </summary>
    public bool OwnersRecorded { get; init; }
}
