using Img.Build.Graph;
using Img.Build.Graph.Convert;
using Img.Oci;

namespace Img.Build;

/// <summary>
/// The image config of a solved stage: its <see cref="StageConfig"/> as an OCI config, the base image's history, then
/// an entry per Dockerfile instruction — a file step's time and whether it left a layer from the vertex it names, a
/// config instruction's time from the filesystem it ran on (so a build answered from the cache gives the same image).
/// </summary>
internal static class ImageAssembly
{
    /// <summary>BuildKit's comment on the history entries of Dockerfile instructions.</summary>
    public const string HistoryComment = "buildkit.dockerfile.v0";

    /// <param name="stage">The target stage as converted.</param>
    /// <param name="root">Its solved filesystem.</param>
    /// <param name="solved">The solved filesystem of every vertex a history entry names.</param>
    /// <param name="sourceDateEpoch">When set, the time of every new entry.</param>
    public static ImageConfig ConfigOf(ConvertedStage stage, SnapshotResult root, Func<Vertex, SnapshotResult> solved, DateTimeOffset? sourceDateEpoch)
    {
        var config = OciStageConfig.ToImageConfig(stage.Config);
        var history = root.BaseConfig?.Copy().History ?? [];
        foreach (var entry in stage.Config.History)
        {
            var step = entry.Step is null ? null : solved(entry.Step);
            var at = entry.Step is null && entry.At is not null ? solved(entry.At) : null;
            history.Add(new History
            {
                Created = sourceDateEpoch ?? (step ?? at)?.Created,
                CreatedBy = entry.CreatedBy,
                Comment = HistoryComment,
                EmptyLayer = step?.NewLayer is null,
            });
        }
        config.History = history;
        return config;
    }

    /// <summary><c>--label</c>s over the Dockerfile's own.</summary>
    public static void AddLabels(ImageConfig config, IReadOnlyDictionary<string, string> labels)
    {
        if (labels.Count == 0) return;
        config.Config.Labels ??= new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in labels) config.Config.Labels[k] = v;
    }
}
