using Img.Archive.ImageArchive;
using Img.Archive.Layers;
using Img.Build.CacheSharing;
using Img.Content;
using Img.Dockerfile;
using Img.Fs;
using Img.Oci;
using Img.Runtime.Oci;
using Img.Runtime.Snapshots;

namespace Img.Build;

/// <summary>The build engine's entry point: Dockerfile and context in, an exported image out.</summary>
public static class Builder
{
    /// <summary>
    /// Builds <paramref name="request"/> and exports the result. Call inside the user namespace (snapshots are mounted).
    /// </summary>
    /// <exception cref="BuildFailedException">The Dockerfile, a step or the export failed; the message says why.</exception>
    public static Task<BuildResult> BuildAsync(BuildRequest request, IBuildProgress progress, CancellationToken ct) =>
        BuildAsync(request, progress, null, ct);

    /// <summary>As above; when <paramref name="solved"/> is set it gets the result instead of the exporter (one platform of several).</summary>
    internal static async Task<BuildResult> BuildAsync(BuildRequest request, IBuildProgress progress, Func<SolvedPlatform, Task>? solved, CancellationToken ct)
    {
        var sink = new ProgressSink(progress);
        // Killed builds leave snapshots, bundles and mount dirs that only they would have removed.
        await StaleWork.ReclaimAsync(request.StateDir).ConfigureAwait(false);
        using var running = StaleWork.EnterBuild(request.StateDir);
        using var store = LocalStore.Open(request.StateDir);
        // Resolved before anything is built: a wrong -o fails at once. One platform of several is exported with the others.
        var exporter = solved is null ? Exporters.Resolve(request, store) : null;
        var (dockerfile, text) = await ReadDockerfileAsync(request, sink, ct).ConfigureAwait(false);
        var plan = PlanOf(request, text);
        var ignore = await ReadIgnoreAsync(request, sink, ct).ConfigureAwait(false);

        var stats = StatCache.Load(Path.Combine(request.StateDir, "build", "context-stats"));
        var context = new BuildContext(request.ContextDir, ignore, stats);
        var backend = Snapshotters.Resolve(request.Backend, request.StateDir);
        var snapshotter = backend.Open(request.StateDir);
        var work = new SnapshotWork(snapshotter, store.Content, request.StateDir)
        {
            LayerOptions = LayerOptionsOf(request),
        };
        var images = new BaseImages(store, work, backend, request.Platform, sink)
        {
            Pull = request.Pull,
            NamedContexts = request.NamedContexts,
            Stats = stats,
            Registry = request.Registry,
        };
        var runtime = new Lazy<IStepExecutor>(() => StepExecutors.Open(request.StateDir, request.Log));
        var solver = new Solver(request, plan, store, work, images, context, sink, backend, CompressionOf(request.Output), runtime)
        {
            ImportedCache = await CacheImporter.ImportAsync(request, store, sink, ct).ConfigureAwait(false),
        };

        StageState final;
        try
        {
            final = await solver.SolveAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            stats.Save();
        }

        var config = StageState.Clone(final.Config);
        if (request.Labels.Count > 0)
        {
            config.Config.Labels ??= new SortedDictionary<string, string>(StringComparer.Ordinal);
            foreach (var (k, v) in request.Labels) config.Config.Labels[k] = v;
        }
        var cacheExport = new CacheExporter(request, solver.Journal, final.Key);
        cacheExport.AddInline(config);
        var result = await ImageWriter.WriteAsync(store.Content, config, final.Layers, request.OciMediaTypes, request.SourceDateEpoch, ct,
            ImageAnnotation.For(request.Annotations, AnnotationTargets.Manifest)).ConfigureAwait(false);
        result = result with { UnusedBuildArgs = [.. plan.UnusedBuildArgs] };
        if (solved is not null)
        {
            await solved(new SolvedPlatform(request.Platform, result, final.Snapshot, backend, cacheExport, [.. images.Materials], dockerfile)).ConfigureAwait(false);
            return result;
        }
        await exporter!.ExportAsync(new BuildOutput(result.Manifest, [new PlatformOutput(request.Platform, result, final.Snapshot)], work), sink, ct).ConfigureAwait(false);
        // After the image is stored: a failed cache export fails the build, but the image is there.
        await cacheExport.ExportAsync(store, sink, ct).ConfigureAwait(false);
        return result;
    }

    /// <summary>The Dockerfile's bytes, read once for the whole build (the provenance attestation carries them too).</summary>
    private static async Task<(byte[] Bytes, string Text)> ReadDockerfileAsync(BuildRequest request, ProgressSink sink, CancellationToken ct)
    {
        var dockerfileName = Path.GetFileName(request.DockerfilePath);
        var load = sink.Start($"[internal] load build definition from {dockerfileName}");
        byte[] bytes;
        try { bytes = await DefinitionFile.ReadAsync(request.DockerfilePath, request.ContextDir, "Dockerfile", ct).ConfigureAwait(false); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            load.Error(e.Message);
            throw new BuildFailedException(e is NativeException { Errno: Native.ENOENT }
                ? $"failed to read dockerfile: open {dockerfileName}: no such file or directory"
                : $"failed to read dockerfile: {e.Message}", e);
        }
        var text = DefinitionFile.Text(bytes);
        load.Log($"transferring dockerfile: {text.Length}B done");
        load.Done();
        return (bytes, text);
    }

    private static BuildPlan PlanOf(BuildRequest request, string dockerfile)
    {
        var host = Platform.Host;
        try
        {
            return BuildPlan.Create(dockerfile, new BuildOptions
            {
                BuildArgs = request.BuildArgs,
                Target = request.Target,
                TargetPlatform = new PlatformInfo(request.Platform.OS, request.Platform.Architecture, request.Platform.Variant),
                BuildPlatform = new PlatformInfo(host.OS, host.Architecture, host.Variant),
            });
        }
        catch (DockerfileException e)
        {
            throw new BuildFailedException(e.Message, e);
        }
    }

    private static async Task<DockerIgnore> ReadIgnoreAsync(BuildRequest request, ProgressSink sink, CancellationToken ct)
    {
        var ignoreStep = sink.Start("[internal] load .dockerignore");
        var ignoreFile = DockerIgnore.Locate(request.ContextDir, request.DockerfilePath);
        DockerIgnore ignore;
        try { ignore = ignoreFile is null ? DockerIgnore.Empty : DockerIgnore.Parse(await DefinitionFile.ReadTextAsync(ignoreFile, request.ContextDir, ".dockerignore", ct).ConfigureAwait(false)); }
        catch (Exception e) when (e is DockerfileException or ArgumentException or IOException or UnauthorizedAccessException)
        {
            ignoreStep.Error(e.Message);
            throw new BuildFailedException(e.Message, e);
        }
        ignoreStep.Done();
        return ignore;
    }

    /// <summary>How a root filesystem is written as a tar (<c>-o type=tar</c>): owners from img's records where it keeps them.</summary>
    internal static WriteOptions? RootTarOptions => Img.Runtime.Namespaces.Isolation.Current.RecordsOwners ? new WriteOptions { OwnersRecorded = true } : null;

    /// <summary>How layers are written: SOURCE_DATE_EPOCH clamps file times; without a namespace owners are img's records.</summary>
    internal static WriteOptions? LayerOptionsOf(BuildRequest request)
    {
        var recorded = Img.Runtime.Namespaces.Isolation.Current.RecordsOwners;
        if (request.SourceDateEpoch is null && !recorded) return null;
        return new WriteOptions { ClampMtime = request.SourceDateEpoch?.ToUnixTimeSeconds(), OwnersRecorded = recorded };
    }

    private static Compression CompressionOf(OutputSpec output)
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
