using System.Runtime.ExceptionServices;
using Img.Archive.ImageArchive;
using Img.Archive.Layers;
using Img.Content;
using Img.Oci;
using Img.Runtime.Snapshots;

namespace Img.Build;

/// <summary>One platform's solved image, handed over instead of being exported on its own.</summary>
/// <param name="Platform">The platform asked for.</param>
/// <param name="Result">Its manifest and config, in the content store.</param>
/// <param name="Snapshot">Its committed root filesystem (null for an empty one).</param>
/// <param name="Backend">The snapshotter that holds <paramref name="Snapshot"/>.</param>
/// <param name="Cache">Its steps for <c>--cache-to</c>, exported once for all platforms.</param>
/// <param name="Materials">The base images it used (for a provenance attestation).</param>
/// <param name="Dockerfile">The Dockerfile as the build read it (a <c>mode=max</c> provenance attestation carries it).</param>
internal sealed record SolvedPlatform(Platform Platform, BuildResult Result, string? Snapshot, SnapshotterKind Backend, CacheSharing.CacheExporter Cache,
    IReadOnlyList<Material> Materials, byte[] Dockerfile);

/// <summary>
/// <c>img build --platform a,b,…</c>: one solve per platform, all at once, sharing the store, the context and the
/// progress display (steps named <c>[linux/arm64 stage-0 2/3] RUN …</c> as BuildKit names them). The manifests
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

        var numbers = new StepNumbers();
        var solved = await SolveAllAsync(request, platforms, progress, numbers, ct).ConfigureAwait(false);
        var sink = new ProgressSink(new PlatformProgress(progress, numbers, null, true));
        var attestations = new List<Descriptor>();
        if (request.Provenance is not null)
        {
            var finished = DateTimeOffset.UtcNow;
            foreach (var s in solved)
                attestations.Add(await Provenance.WriteAsync(store.Content, request, s, started, finished, ct).ConfigureAwait(false));
        }
        var index = await IndexWriter.WriteAsync(store.Content, solved.Select(s => s.Result).ToList(), request.OciMediaTypes, ct, request.Annotations, attestations)
            .ConfigureAwait(false);
        var output = new BuildOutput(index, [.. solved.Select(s => new PlatformOutput(s.Platform, s.Result, s.Snapshot))], Snapshots(request, store, solved));
        await exporter.ExportAsync(output, sink, ct).ConfigureAwait(false);
        await CacheSharing.CacheExporter.Merge(solved.Select(s => s.Cache).ToList()).ExportAsync(store, sink, ct).ConfigureAwait(false);
        return new BuiltImage(index, null) { UnusedBuildArgs = solved[0].Result.UnusedBuildArgs };
    }

    /// <summary>Runs every platform's build at once; the first failure cancels the others and is the one reported.</summary>
    private static async Task<List<SolvedPlatform>> SolveAllAsync(BuildRequest request, IReadOnlyList<Platform> platforms, IBuildProgress progress,
        StepNumbers numbers, CancellationToken ct)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var solved = new SolvedPlatform?[platforms.Count];
        Exception? first = null;
        var builds = platforms.Select((platform, i) => Task.Run(async () =>
        {
            try
            {
                // One platform (with an attestation) keeps the single-platform step names.
                var perPlatform = new PlatformProgress(progress, numbers, platforms.Count > 1 ? platform.ToString() : null, i == 0);
                await Builder.BuildAsync(request with { Platform = platform }, perPlatform, s =>
                {
                    solved[i] = s;
                    return Task.CompletedTask;
                }, cancel.Token).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref first, e, null);
                await cancel.CancelAsync().ConfigureAwait(false);
                throw;
            }
        }, CancellationToken.None)).ToList();
        try
        {
            await Task.WhenAll(builds).ConfigureAwait(false);
        }
        catch (Exception) when (first is not null)
        {
            ExceptionDispatchInfo.Capture(first).Throw();
        }
        return solved.Select(s => s!).ToList();
    }

    /// <summary>The platforms' snapshots: one snapshotter holds them all.</summary>
    private static SnapshotWork Snapshots(BuildRequest request, LocalStore store, List<SolvedPlatform> solved)
    {
        var backend = solved[0].Backend;
        if (solved.Any(s => s.Backend != backend)) throw new BuildFailedException("the platforms were built on different snapshotters");
        return new SnapshotWork(backend.Open(request.StateDir), store.Content, request.StateDir);
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

/// <summary>Step numbers shared by the platforms of one build, so the display counts every step once.</summary>
internal sealed class StepNumbers
{
    private int _next;

    public int Next() => Interlocked.Increment(ref _next);
}

/// <summary>
/// One platform's view of the shared progress display: its steps get the shared numbers and the platform after the
/// bracket (<c>[linux/arm64 stage-0 2/3] RUN …</c>, <c>[linux/arm64 internal] load metadata …</c>). Reading the
/// Dockerfile and .dockerignore is shown once, by the platform that shows shared steps.
/// </summary>
internal sealed class PlatformProgress(IBuildProgress inner, StepNumbers numbers, string? platform, bool showsShared) : IBuildProgress
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, (int Step, string Name)?> _steps = new();

    public void Report(StepEvent e)
    {
        if (e.State == StepState.Started)
        {
            if (!showsShared && IsShared(e.Name))
            {
                _steps[e.Step] = null;
                return;
            }
            var mapped = (numbers.Next(), Rename(e.Name));
            _steps[e.Step] = mapped;
            inner.Report(e with { Step = mapped.Item1, Name = mapped.Item2 });
            return;
        }
        if (_steps.TryGetValue(e.Step, out var m) && m is { } step)
            inner.Report(e with { Step = step.Step, Name = step.Name });
    }

    private static bool IsShared(string name) =>
        name.StartsWith("[internal] load build definition", StringComparison.Ordinal) || name == "[internal] load .dockerignore";

    private string Rename(string name) =>
        platform is null || IsShared(name) || !name.StartsWith('[') ? name : "[" + platform + " " + name[1..];
}
