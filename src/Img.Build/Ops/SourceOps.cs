using Img.Build.Graph;
using Img.Oci;

namespace Img.Build;

/// <summary>Finds the op of each vertex of a Dockerfile's graph.</summary>
internal sealed class BuildOps(BuildEnv env, SourceImages images) : IOpResolver
{
    /// <summary>The name the converter gives the build context's source.</summary>
    private const string ContextName = "context";

    public IOp Resolve(Vertex vertex) => vertex.Definition switch
    {
        LocalSource { Name: ContextName } => new ContextOp(env, vertex),
        ImageSource or OciLayoutSource or LocalSource => new BaseImageOp(vertex, ct => images.LoadAsync(vertex.Definition, ct)),
        HttpSource http => new DownloadOp(env, http),
        ExecOp => new RunOp(env, vertex),
        FileOp => new FileStepOp(env, vertex),
        var other => throw new InvalidOperationException($"no op executes {other.Kind}"),
    };
}

/// <summary>
/// A filesystem from an image, an OCI layout or a named context directory, loaded by <see cref="BaseImages"/>: its
/// cache digest is what it resolved to (the platform manifest, the directory's content), so a changed directory is
/// another input.
/// </summary>
internal sealed class BaseImageOp(Vertex vertex, Func<CancellationToken, Task<BaseImage>> load) : IOp
{
    public async ValueTask<CacheMap> CacheMapAsync(CancellationToken ct)
    {
        var image = await load(ct).ConfigureAwait(false);
        var digest = new DefinitionWriter().Field("source", OpDefinitions.DigestOf(vertex.Definition)).Field("resolved", image.Key).Finish();
        return CacheMap.Whole(digest, vertex.Inputs.Count);
    }

    public async Task<IResult> ExecAsync(IReadOnlyList<IResult> inputs, CancellationToken ct) =>
        SnapshotResult.Of(await load(ct).ConfigureAwait(false));
}

/// <summary>The build context; what a reader takes of it comes into its key through its path selectors.</summary>
internal sealed class ContextOp(BuildEnv env, Vertex vertex) : IOp
{
    public ValueTask<CacheMap> CacheMapAsync(CancellationToken ct) =>
        ValueTask.FromResult(CacheMap.Whole(OpDefinitions.DigestOf(vertex.Definition), 0));

    public Task<IResult> ExecAsync(IReadOnlyList<IResult> inputs, CancellationToken ct) => Task.FromResult<IResult>(new ContextResult(env.Context));
}

/// <summary><c>ADD &lt;url&gt;</c>'s file, fetched on every build (its digest is what the copy's key takes).</summary>
internal sealed class DownloadOp(BuildEnv env, HttpSource source) : IOp
{
    public ValueTask<CacheMap> CacheMapAsync(CancellationToken ct) => ValueTask.FromResult(CacheMap.Whole(OpDefinitions.DigestOf(source), 0));

    public async Task<IResult> ExecAsync(IReadOnlyList<IResult> inputs, CancellationToken ct)
    {
        var (file, digest) = await UrlDownload.FetchAsync(env.Store.Content, env.Request.Limits, env.Images.Registry,
            source.Url, source.Checksum, ct).ConfigureAwait(false);
        return new DownloadResult(source.Url, file, digest);
    }
}
