using Img.Content;
using Img.Oci;
using Img.Registry;
using Img.Runtime.Snapshots;

namespace Img.Build;

/// <summary>What the command line builds the engine from, once: where state lives and the parts every build shares.</summary>
public sealed record EngineOptions
{
    /// <summary>The state directory (<c>-s/--state</c>): the content store, metadata and snapshots.</summary>
    public required string StateDir { get; init; }

    /// <summary><c>-b/--backend</c>: the snapshot store, resolved once per build (<c>auto</c> probes).</summary>
    public BackendChoice Backend { get; init; } = BackendChoice.Auto;

    /// <summary>
    /// The one registry client of every build: base images, <c>--cache-from</c>/<c>--cache-to</c>, the push and
    /// <c>ADD &lt;url&gt;</c>, with the command line's options and <c>-d</c> log.
    /// </summary>
    public required RegistryClient Registry { get; init; }

    /// <summary>Debug lines (<c>-d</c>); null for none.</summary>
    public Action<string>? Log { get; init; }
}

/// <summary>
/// The build engine, made once by the command line (BuildKit's controller in small): it owns the state directory's
/// shared parts — the stale-work reclaimer, the snapshot store choice, the registry client — and builds requests:
/// the exporter resolved from <c>-o</c> first, then one graph for every platform solved at once
/// (<see cref="GraphBuild"/>), then the exporter given one <see cref="BuildOutput"/>, then the cache export.
/// Several platforms (or a provenance attestation) make an index: one image index (a Docker manifest list unless
/// OCI media types are asked for) with a platform on each entry, what <c>-t</c> names, pushes and saves.
/// </summary>
public sealed class BuildEngine(EngineOptions options)
{
    private readonly StaleWork _staleWork = new(options.StateDir);

    public EngineOptions Options { get; } = options;

    /// <summary>Builds <paramref name="request"/> for <paramref name="platforms"/> (none: the request's) and exports the result.</summary>
    /// <exception cref="BuildFailedException">The Dockerfile, a step or the export failed; the message says why.</exception>
    public async Task<BuiltImage> BuildAsync(BuildRequest request, IReadOnlyList<Platform> platforms, IBuildProgress progress, CancellationToken ct)
    {
        if (platforms.Count == 0) platforms = [request.Platform];
        // An attestation needs an index to hang from, so a single platform with provenance takes the index path.
        var index = platforms.Count > 1 || request.Provenance is not null;
        if (!index) request = request with { Platform = platforms[0] };
        if (request.Provenance is not null && request.Output.Type is "local" or "tar")
            throw new BuildFailedException($"a provenance attestation is attached to an image: use -o type=image, registry, docker or oci, not {request.Output.Type}");
        var started = DateTimeOffset.UtcNow;
        var sink = new ProgressSink(progress);
        // Killed builds leave snapshots, bundles and mount dirs that only they would have removed.
        await _staleWork.ReclaimAsync().ConfigureAwait(false);
        // Held until the export is done: no other process reclaims our mount dirs or collects our blobs meanwhile.
        using var running = _staleWork.EnterBuild();
        using var store = LocalStore.Open(Options.StateDir);
        // Resolved before anything is built: a wrong -o fails at once.
        var exporter = Exporters.Resolve(request, store, Options.Registry);
        var build = await GraphBuild.SolveAsync(Options, request, store, platforms, sink, ct).ConfigureAwait(false);
        var solved = build.Platforms;
        var target = index ? await IndexAsync(request, store, solved, started, ct).ConfigureAwait(false) : solved[0].Result.Manifest;
        var output = new BuildOutput(target, [.. solved.Select(s => new PlatformOutput(s.Platform, s.Result, s.Snapshot))], build.Snapshots);
        await exporter.ExportAsync(output, sink, ct).ConfigureAwait(false);
        // After the image is stored: a failed cache export fails the build, but the image is there.
        await CacheSharing.CacheExporter.Merge([.. solved.Select(s => s.Cache)]).ExportAsync(store, Options.Registry, sink, ct).ConfigureAwait(false);
        var unused = solved[0].Result.UnusedBuildArgs;
        return index
            ? new BuiltImage(target, null) { UnusedBuildArgs = unused }
            : new BuiltImage(target, solved[0].Result.Config) { UnusedBuildArgs = unused };
    }

    /// <summary>The index of the platforms' manifests, with a provenance attestation per platform when asked for.</summary>
    private static async Task<Descriptor> IndexAsync(BuildRequest request, LocalStore store, IReadOnlyList<SolvedPlatform> solved, DateTimeOffset started,
        CancellationToken ct)
    {
        var attestations = new List<Descriptor>();
        if (request.Provenance is not null)
        {
            var finished = DateTimeOffset.UtcNow;
            foreach (var s in solved)
                attestations.Add(await Provenance.WriteAsync(store.Content, request, s, started, finished, ct).ConfigureAwait(false));
        }
        return await IndexWriter.WriteAsync(store.Content, [.. solved.Select(s => s.Result)], request.OciMediaTypes, ct, request.Annotations, attestations)
            .ConfigureAwait(false);
    }
}
