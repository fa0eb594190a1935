using Img.Content;
using Img.Oci;
using Img.Runtime.Snapshots;

namespace Img.Build;

/// <summary>One platform's solved image.</summary>
/// <param name="Platform">The platform asked for.</param>
/// <param name="Result">Its manifest and config, in the content store.</param>
/// <param name="Snapshot">Its committed root filesystem (null for an empty one).</param>
/// <param name="Backend">The snapshotter that holds <paramref name="Snapshot"/>.</param>
/// <param name="Cache">Its steps for <c>--cache-to</c>, exported once for all platforms.</param>
/// <param name="Materials">The base images it used (for a provenance attestation).</param>
/// <param name="Dockerfile">The Dockerfile as the build read it (a <c>mode=max</c> provenance attestation carries it).</param>
internal sealed record SolvedPlatform(Platform Platform, BuildResult Result, string? Snapshot, SnapshotterKind Backend, CacheSharing.CacheExporter Cache,
    IReadOnlyList<Material> Materials, byte[] Dockerfile)
{
    /// <summary>The step key of its filesystem.</summary>
    public string Key { get; init; } = "";

    /// <summary>Its layers, base image's first.</summary>
    public IReadOnlyList<LayerRef> Layers { get; init; } = [];
}

/// <summary>Writes the image index (or Docker manifest list) of a multi-platform build into the content store.</summary>
internal static class IndexWriter
{
    /// <summary>Stores an index of <paramref name="images"/>, each entry carrying its config's platform, in the order given.</summary>
    public static async Task<Descriptor> WriteAsync(ContentStore content, IReadOnlyList<BuildResult> images, bool oci, CancellationToken ct,
        IReadOnlyList<ImageAnnotation>? annotations = null, IReadOnlyList<Descriptor>? attestations = null)
    {
        annotations ??= [];
        var index = new ImageIndex
        {
            SchemaVersion = 2,
            MediaType = oci ? MediaTypes.OciIndex : MediaTypes.DockerManifestList,
            Manifests = images.Select(i => i.Manifest with
            {
                Platform = PlatformOf(i.ImageConfig),
                Annotations = ImageAnnotation.For(annotations, AnnotationTargets.ManifestDescriptor, i.Manifest.Annotations),
            }).Concat(attestations ?? []).ToList(),
            Annotations = ImageAnnotation.For(annotations, AnnotationTargets.Index),
        };
        return await content.WriteBytesAsync(OciJson.Serialize(index), index.MediaType, ct).ConfigureAwait(false);
    }

    private static Platform PlatformOf(ImageConfig config) => Platform.Normalize(new Platform
    {
        OS = config.OS,
        Architecture = config.Architecture,
        Variant = config.Variant,
        OSVersion = config.OSVersion,
    });
}
