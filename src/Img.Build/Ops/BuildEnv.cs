using Img.Archive.Layers;
using Img.Build.Graph;
using Img.Content;
using Img.Oci;
using Img.Runtime.Oci;

namespace Img.Build;

/// <summary>What the ops of one build run with: the request, the stores, snapshots, base images, the context, the runtime.</summary>
internal sealed record BuildEnv(BuildRequest Request, LocalStore Store, SnapshotWork Snapshots, BaseImages Images, BuildContext Context,
    Lazy<IStepExecutor> Runtime, Compression Compression, VertexSteps Steps, Action<string>? Log)
{
    /// <summary>
    /// The digest of what <paramref name="paths"/> select in a solved input: context files by content (a change elsewhere
    /// in the context keeps the key), a download by its digest; a stage's filesystem by its key, as a stage that runs
    /// again with the same key is the same input.
    /// </summary>
    public async ValueTask<Digest> ContentDigestAsync(SolvedInput input, IReadOnlyList<string> paths, CancellationToken ct)
    {
        var writer = new DefinitionWriter().Field("paths", paths);
        switch (input.Result)
        {
            case ContextResult context:
                foreach (var path in paths)
                {
                    var matches = Matches(context.Context, path);
                    writer.Field("matches", matches).Field("content", await context.Context.DigestAsync(matches, ct).ConfigureAwait(false));
                }
                break;
            case DownloadResult download:
                writer.Field("content", download.Digest);
                break;
            default:
                writer.Field("input", input.Key.Digest);
                break;
        }
        return writer.Finish();
    }

    /// <summary>The context paths a source pattern names; a plain path that is not there is BuildKit's error.</summary>
    public static List<string> Matches(BuildContext context, string pattern)
    {
        var clean = SourcePattern.Clean(pattern);
        if (clean.Length == 0) return [""];
        var matches = context.Match(pattern);
        if (matches.Count == 0 && !SourcePattern.HasWildcard(pattern))
            throw new BuildFailedException($"failed to compute cache key: \"/{clean}\": not found");
        return matches;
    }

    /// <summary>
    /// Prepares a writable snapshot on <paramref name="root"/>, lets <paramref name="change"/> change it, commits it with
    /// its layer: the step's result, made now (or at SOURCE_DATE_EPOCH).
    /// </summary>
    public async Task<SnapshotResult> CommitStepAsync(SnapshotResult root, Func<string, Task> change, CancellationToken ct)
    {
        var name = StepCache.NewSnapshotName();
        var layer = await Snapshots.CommitChangeAsync(root.Snapshot, name, Compression, change, ct).ConfigureAwait(false);
        return root.Then(name, layer, Request.SourceDateEpoch ?? StepTimes.Now());
    }
}

/// <summary>Times of steps as history records them.</summary>
internal static class StepTimes
{
    // Whole seconds: the cache record's own time column keeps milliseconds, the exported history should not differ by them.
    public static DateTimeOffset Now() => Truncate(DateTimeOffset.UtcNow);

    public static DateTimeOffset Truncate(DateTimeOffset t) => DateTimeOffset.FromUnixTimeSeconds(t.ToUnixTimeSeconds());
}
