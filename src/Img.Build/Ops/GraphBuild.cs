using System.Runtime.ExceptionServices;
using Img.Archive.Layers;
using Img.Build.CacheSharing;
using Img.Build.Graph;
using Img.Build.Graph.Convert;
using Img.Content;
using Img.Dockerfile;
using Img.Fs;
using Img.Oci;
using Img.Runtime.Oci;
using Img.Runtime.Snapshots;

namespace Img.Build;

/// <summary>
/// One build on the graph: the Dockerfile converted once for every platform (base images resolved, pulled and
/// unpacked on the way), solved by one <see cref="GraphSolver"/> — vertices the platforms share run once — and each
/// platform's image config and manifest written from its target's solved filesystem.
/// </summary>
internal sealed class GraphBuild
{
    private GraphBuild(SnapshotWork snapshots, IReadOnlyList<SolvedPlatform> platforms)
    {
        Snapshots = snapshots;
        Platforms = platforms;
    }

    /// <summary>The snapshots the platforms' filesystems are in.</summary>
    public SnapshotWork Snapshots { get; }

    /// <summary>Per platform, in the order asked: its image, filesystem and cache steps.</summary>
    public IReadOnlyList<SolvedPlatform> Platforms { get; }

    /// <summary>Solves <paramref name="request"/> for <paramref name="platforms"/> and writes their images into the store.</summary>
    /// <exception cref="BuildFailedException">The Dockerfile or a step failed; the message says why.</exception>
    public static async Task<GraphBuild> SolveAsync(EngineOptions engine, BuildRequest request, LocalStore store, IReadOnlyList<Platform> platforms, ProgressSink sink, CancellationToken ct)
    {
        var (dockerfile, text) = await DefinitionReading.ReadDockerfileAsync(request, sink, ct).ConfigureAwait(false);
        var document = Parse(text);
        var ignore = await DefinitionReading.ReadIgnoreAsync(request, sink, ct).ConfigureAwait(false);
        var stats = StatCache.Load(Path.Combine(engine.StateDir, "build", "context-stats"));
        try
        {
            var backend = Snapshotters.Resolve(engine.Backend, engine.StateDir);
            var work = new SnapshotWork(backend.Open(engine.StateDir), store.Content, engine.StateDir) { LayerOptions = LayerFormats.LayerOptionsOf(request) };
            var images = new BaseImages(store, work, backend, request.Platform, sink)
            {
                Pull = request.Pull, NamedContexts = request.NamedContexts, Stats = stats, Registry = engine.Registry, NamesPlatform = platforms.Count > 1,
            };
            var compression = LayerFormats.CompressionOf(request.Output);
            var env = new BuildEnv(request, store, work, images, new BuildContext(request.ContextDir, ignore, stats),
                new Lazy<IStepExecutor>(() => StepExecutors.Open(engine.StateDir, engine.Log)), compression, new VertexSteps(sink), engine.Log);
            var sources = new SourceImages(images, request.NamedContexts);
            var graph = await ConvertAsync(document, request, platforms, ignore, sources, ct).ConfigureAwait(false);
            if (graph.Platforms.Count > 1) env.Steps.NamePlatforms(graph.Platforms.Select(p => p.Vertices));
            var keys = new StepKeys(backend, request.SourceDateEpoch, compression);
            var cache = new StepCache(env, keys) { Imported = await CacheImporter.ImportAsync(request, engine.Registry, store, sink, ct).ConfigureAwait(false) };
            // No limit on ops at once, as BuildKit by default: independent stages run side by side however many cores there are.
            await using var solver = new GraphSolver(new GraphSolverOptions
            {
                Ops = new BuildOps(env, sources), Cache = cache, Progress = env.Steps, MaxParallelism = int.MaxValue,
            });
            var solved = await SolveAllAsync(solver, graph, ct).ConfigureAwait(false);
            var unused = graph.Platforms[0].Plan.UnusedBuildArgs.ToList();
            var results = new List<SolvedPlatform>();
            foreach (var platform in graph.Platforms)
                results.Add(await WriteImageAsync(request, store, platform, solved, cache, keys, backend, dockerfile, unused, ct).ConfigureAwait(false));
            return new GraphBuild(work, results);
        }
        finally
        {
            stats.Save();
        }
    }

    private static DockerfileDocument Parse(string text)
    {
        try { return DockerfileDocument.Parse(text); }
        catch (DockerfileException e) { throw new BuildFailedException(e.Message, e); }
    }

    private static async Task<BuildGraph> ConvertAsync(DockerfileDocument document, BuildRequest request, IReadOnlyList<Platform> platforms,
        DockerIgnore ignore, SourceImages sources, CancellationToken ct)
    {
        var options = new ConvertOptions
        {
            Platforms = platforms,
            BuildArgs = request.BuildArgs,
            Target = request.Target,
            NamedContexts = request.NamedContexts,
            ContextExcludes = ignore.Patterns,
            Network = request.Network,
            ExtraHosts = request.ExtraHosts,
            ShmSizeBytes = request.ShmSizeBytes,
            Ulimits = request.Ulimits,
            NoCache = request.NoCache,
        };
        try { return await ImageResolution.ConvertAsync(document, options, sources.ResolveAsync, ct).ConfigureAwait(false); }
        catch (DockerfileException e) { throw new BuildFailedException(e.Message, e); }
    }

    /// <summary>Every vertex of every platform, solved at once; a failure is the build's, named after its step.</summary>
    private static async Task<IReadOnlyDictionary<Digest, SnapshotResult>> SolveAllAsync(GraphSolver solver, BuildGraph graph, CancellationToken ct)
    {
        var vertices = GraphWalk.Postorder(graph.Targets);
        IReadOnlyList<IResult> results;
        try { results = await solver.SolveAsync(vertices, ct).ConfigureAwait(false); }
        catch (SolveException e) when (e.InnerException is BuildFailedException failed)
        {
            throw failed.InStep(e.VertexName);
        }
        catch (SolveException e)
        {
            ExceptionDispatchInfo.Capture(e.InnerException!).Throw();
            throw;
        }
        var solved = new Dictionary<Digest, SnapshotResult>();
        for (var i = 0; i < vertices.Count; i++)
            if (results[i] is SnapshotResult snapshot) solved[vertices[i].Digest] = snapshot;
        return solved;
    }

    private static async Task<SolvedPlatform> WriteImageAsync(BuildRequest request, LocalStore store, PlatformGraph platform,
        IReadOnlyDictionary<Digest, SnapshotResult> solved, StepCache cache, StepKeys keys, SnapshotterKind backend, byte[] dockerfile,
        IReadOnlyList<string> unused, CancellationToken ct)
    {
        var target = platform.Target;
        var root = target.Root is null ? SnapshotResult.Empty : solved[target.Root.Digest];
        var config = ImageAssembly.ConfigOf(target, root, v => solved[v.Digest], request.SourceDateEpoch);
        ImageAssembly.AddLabels(config, request.Labels);
        var key = keys.Of(target.Root);
        var cacheExport = new CacheExporter(request, cache.Journal, key);
        cacheExport.AddInline(config);
        var result = await ImageWriter.WriteAsync(store.Content, config, root.Layers, request.OciMediaTypes, request.SourceDateEpoch, ct,
            ImageAnnotation.For(request.Annotations, AnnotationTargets.Manifest)).ConfigureAwait(false);
        var materials = platform.Vertices.Where(v => solved.ContainsKey(v.Digest)).Select(v => solved[v.Digest].Material).OfType<Material>().ToList();
        return new SolvedPlatform(platform.Platform, result with { UnusedBuildArgs = unused }, root.Snapshot, backend, cacheExport, materials, dockerfile)
        {
            Key = key,
            Layers = root.Layers,
        };
    }
}
