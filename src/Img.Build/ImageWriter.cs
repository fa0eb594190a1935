using Img.Archive.Layers;
using Img.Content;
using Img.Oci;

namespace Img.Build;

/// <summary>How a build writes trees and layers: the owners, the clamped times and the compression its request asks for.</summary>
internal static class LayerFormats
{
    /// <summary>How a root filesystem is written as a tar (<c>-o type=tar</c>): owners from img's records where it keeps them.</summary>
    internal static WriteOptions? RootTarOptions => Img.Runtime.Namespaces.Isolation.Current.RecordsOwners ? new WriteOptions { OwnersRecorded = true } : null;

    /// <summary>How layers are written: SOURCE_DATE_EPOCH clamps file times; without a namespace owners are img's records.</summary>
    internal static WriteOptions? LayerOptionsOf(BuildRequest request)
    {
        var recorded = Img.Runtime.Namespaces.Isolation.Current.RecordsOwners;
        if (request.SourceDateEpoch is null && !recorded) return null;
        return new WriteOptions { ClampMtime = request.SourceDateEpoch?.ToUnixTimeSeconds(), OwnersRecorded = recorded };
    }

    internal static Compression CompressionOf(OutputSpec output)
    {
        if (!output.Attrs.TryGetValue("compression", out var c) || c.Length == 0) return Compression.Gzip;
        return c switch
        {
            "gzip" => Compression.Gzip,
            "zstd" => Compression.Zstd,
            "uncompressed" => Compression.None,
            _ => throw new BuildFailedException($"invalid compression type {c}"),
        };
    }
}

/// <summary>Writes the final image config and manifest into the content store.</summary>
public static class ImageWriter
{
    /// <summary>
    /// Stores <paramref name="config"/> (with its rootfs set from <paramref name="layers"/> and its times settled by
    /// <see cref="ImageTimes.Settle"/>) and a manifest; Docker schema2 media types unless <paramref name="oci"/>.
    /// </summary>
    public static async Task<BuildResult> WriteAsync(ContentStore content, ImageConfig config, IReadOnlyList<LayerRef> layers, bool oci,
        DateTimeOffset? sourceDateEpoch, CancellationToken ct, IReadOnlyDictionary<string, string>? annotations = null)
    {
        config.Created = ImageTimes.Settle(config, sourceDateEpoch);
        config.RootFs = new RootFs { Type = "layers", DiffIds = layers.Select(l => l.DiffId).ToList() };
        var configBytes = OciJson.Serialize(config);
        var configDesc = await content.WriteBytesAsync(configBytes, oci ? MediaTypes.OciConfig : MediaTypes.DockerConfig, ct).ConfigureAwait(false);
        var manifest = new Manifest
        {
            SchemaVersion = 2,
            MediaType = oci ? MediaTypes.OciManifest : MediaTypes.DockerManifest,
            Config = configDesc,
            Layers = layers.Select(l => l.Blob with { MediaType = MediaTypes.Layer(MediaTypes.LayerCompression(l.Blob.MediaType), oci) }).ToList(),
            Annotations = annotations,
        };
        var manifestBytes = OciJson.Serialize(manifest);
        var manifestDesc = await content.WriteBytesAsync(manifestBytes, manifest.MediaType, ct).ConfigureAwait(false);
        return new BuildResult(manifestDesc, configDesc, config);
    }
}

/// <summary>The image's times: reproducible, never the wall clock when something better is known.</summary>
public static class ImageTimes
{
    /// <summary>
    /// The config's <c>created</c>: SOURCE_DATE_EPOCH when set, else the newest history time (the last step that
    /// changed the filesystem, kept in the cache so a rebuild from cache is the same image), else now. History entries
    /// without a time (config steps on scratch before any file was written) take it too.
    /// </summary>
    public static DateTimeOffset Settle(ImageConfig config, DateTimeOffset? sourceDateEpoch)
    {
        var history = config.History ?? [];
        var created = sourceDateEpoch ?? Newest(history) ?? DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        foreach (var h in history) h.Created ??= created;
        return created;
    }

    private static DateTimeOffset? Newest(List<History> history)
    {
        DateTimeOffset? newest = null;
        foreach (var h in history)
        {
            if (h.Created is { } t && (newest is null || t > newest)) newest = t;
        }
        return newest;
    }
}
