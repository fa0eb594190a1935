using Img.Build.Graph;
using Img.Oci;

namespace Img.Build;

/// <summary>
/// A filesystem a vertex produced: the committed snapshot holding it (null for an empty one), its layers, when it last
/// changed — the time its latest step first ran (kept in the cache record) or the base image's creation time, so a
/// build answered from the cache makes the same image — and the history of the image it started from.
/// </summary>
internal sealed record SnapshotResult(string? Snapshot, IReadOnlyList<LayerRef> Layers) : IResult
{
    /// <summary>The empty filesystem (<c>FROM scratch</c>).</summary>
    public static SnapshotResult Empty { get; } = new(null, []);

    public DateTimeOffset? Created { get; init; }

    /// <summary>The layer the step that made this filesystem added; null for a base or a step that changed nothing.</summary>
    public LayerRef? NewLayer { get; init; }

    /// <summary>The config of the image it started from (its history comes before the Dockerfile's); null for none.</summary>
    public ImageConfig? BaseConfig { get; init; }

    /// <summary>The image it is (for a provenance attestation's materials), or null for a built filesystem.</summary>
    public Material? Material { get; init; }

    /// <summary>A base image as a result.</summary>
    public static SnapshotResult Of(BaseImage image) => new(image.Snapshot, image.Layers)
    {
        Created = image.Config.Created,
        BaseConfig = image.Config,
        Material = image.Material,
    };

    /// <summary>This filesystem changed by a step: <paramref name="layer"/> on top, made at <paramref name="created"/>.</summary>
    public SnapshotResult Then(string snapshot, LayerRef? layer, DateTimeOffset? created) =>
        new(snapshot, layer is null ? Layers : [.. Layers, layer]) { Created = created, NewLayer = layer, BaseConfig = BaseConfig };

    public ValueTask ReleaseAsync() => ValueTask.CompletedTask;
}

/// <summary>The build context (or its part a reader selects: COPY sources, bind mounts).</summary>
internal sealed record ContextResult(BuildContext Context) : IResult
{
    public ValueTask ReleaseAsync() => ValueTask.CompletedTask;
}

/// <summary>A file fetched by <c>ADD &lt;url&gt;</c>, and its digest; deleted when released.</summary>
internal sealed record DownloadResult(string Url, string File, Digest Digest) : IResult
{
    public ValueTask ReleaseAsync()
    {
        System.IO.File.Delete(File);
        return ValueTask.CompletedTask;
    }
}
