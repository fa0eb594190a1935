using Img.Archive.ImageArchive;
using Img.Archive.Layers;
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

/// <summary>
/// <c>img build --platform a,b,…</c>: one graph for every platform, solved at once over the same store, context and
/// progress display (steps named <c>[linux/arm64 stage-0 2/3] RUN …</c> as BuildKit names them); a vertex the
/// platforms share runs once. The manifests
/// become one image index (a Docker manifest list unless OCI media types are asked for) with a platform on each
/// entry; that index is what <c>-t</c> names, pushes and saves. <c>-o type=local|tar</c> write one directory per
/// platform (<c>linux_amd64/</c>). One platform is exactly the single-platform build.
/// </summary>
public static class MultiPlatformBuild
{
    /// <summary>Builds <paramref name="request"/> for each of <paramref name="platforms"/> and exports the result.</summary>
    /// <exception cref="BuildFailedException">A platform's build or the export failed; the message says why.</exception>
    public static async Task<BuiltImage> BuildAsync(BuildRequest request, IReadOnlyList<Platform> platforms, IBuildProgress progress, CancellationToken ct)
    {
        // An attestation needs an index to hang from, so a single platform with provenance takes the index path.
        if (platforms.Count <= 1 && request.Provenance is null)
        {
            var single = platforms.Count == 1 ? request with { Platform = platforms[0] } : request;
            var result = await Builder.BuildAsync(single, progress, ct).ConfigureAwait(false);
            return new BuiltImage(result.Manifest, result.Config) { UnusedBuildArgs = result.UnusedBuildArgs };
        }
        if (platforms.Count == 0) platforms = [request.Platform];
        if (request.Provenance is not null && request.Output.Type is "local" or "tar")
            throw new BuildFailedException($"a provenance attestation is attached to an image: use -o type=image, registry, docker or oci, not {request.Output.Type}");
        var started = DateTimeOffset.UtcNow;

        await StaleWork.ReclaimAsync(request.StateDir).ConfigureAwait(false);
        // Held until the export is done: no other process reclaims our mount dirs or collects our blobs meanwhile.
        using var running = StaleWork.EnterBuild(request.StateDir);
        using var store = LocalStore.Open(request.StateDir);
        var exporter = Exporters.Resolve(request, store);

        var sink = new ProgressSink(progress);
        var build = await GraphBuild.SolveAsync(request, store, platforms, sink, ct).ConfigureAwait(false);
        var solved = build.Platforms.ToList();
        var attestations = new List<Descriptor>();
        if (request.Provenance is not null)
        {
            var finished = DateTimeOffset.UtcNow;
            foreach (var s in solved)
                attestations.Add(await Provenance.WriteAsync(store.Content, request, s, started, finished, ct).ConfigureAwait(false));
        }
        var index = await IndexWriter.WriteAsync(store.Content, solved.Select(s => s.Result).ToList(), request.OciMediaTypes, ct, request.Annotations, attestations)
            .ConfigureAwait(false);
        var output = new BuildOutput(index, [.. solved.Select(s => new PlatformOutput(s.Platform, s.Result, s.Snapshot))], build.Snapshots);
        await exporter.ExportAsync(output, sink, ct).ConfigureAwait(false);
        await CacheSharing.CacheExporter.Merge(solved.Select(s => s.Cache).ToList()).ExportAsync(store, sink, ct).ConfigureAwait(false);
        return new BuiltImage(index, null) { UnusedBuildArgs = solved[0].Result.UnusedBuildArgs };
    }
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
