using Img.Runtime.Oci;

namespace Img.Build;

/// <summary>A <c>RUN --mount=type=bind</c> source.</summary>
/// <param name="Target">Where it is mounted.</param>
/// <param name="ReadOnly">Whether the step may only read it (its writes are dropped either way).</param>
/// <param name="Snapshot">Null for the context; the snapshot of the stage or image named by <c>from=</c> ("" for an empty one).</param>
/// <param name="HostSource">The context path on the host, or the path inside that snapshot.</param>
internal sealed record BindSource(string Target, bool ReadOnly, string? Snapshot, string HostSource);

/// <summary>Makes a RUN's bind sources visible for as long as the step runs: the context as the build sees it, or a view of a stage.</summary>
internal static class BindSources
{
    /// <summary>Runs <paramref name="run"/> with <paramref name="mounts"/> and a bind mount for each of <paramref name="binds"/>.</summary>
    public static Task WithMountedAsync(BuildEnv env, IReadOnlyList<BindSource> binds, IReadOnlyList<RunMount> mounts,
        Func<IReadOnlyList<RunMount>, Task> run, CancellationToken ct) => WithAsync(env, binds, 0, [.. mounts], run, ct);

    private static async Task WithAsync(BuildEnv env, IReadOnlyList<BindSource> binds, int index, List<RunMount> mounts,
        Func<IReadOnlyList<RunMount>, Task> run, CancellationToken ct)
    {
        if (index == binds.Count)
        {
            await run(mounts).ConfigureAwait(false);
            return;
        }
        var (target, readOnly, snapshot, source) = binds[index];
        if (snapshot is not null)
        {
            await env.Snapshots.WithViewAsync<bool>(snapshot.Length == 0 ? null : snapshot, async root =>
            {
                var host = RootPath.Resolve(root, "/" + source);
                await WithAsync(env, binds, index + 1, [.. mounts, new BindMount(host, target, !readOnly)], run, ct).ConfigureAwait(false);
                return true;
            }, ct).ConfigureAwait(false);
            return;
        }
        var context = env.Context;
        if (context.Ignore.Patterns.Count == 0)
        {
            await WithAsync(env, binds, index + 1, [.. mounts, new BindMount(source, target, !readOnly)], run, ct).ConfigureAwait(false);
            return;
        }
        // The context as the build sees it: a copy without what .dockerignore excludes.
        var rel = Path.GetRelativePath(context.Directory, source) is var r && r != "." ? r : "";
        if (context.IsExcluded(rel) || Posix.TryLstat(source) is null)
            throw new BuildFailedException($"failed to compute cache key: \"/{rel}\": not found");
        var dir = env.Snapshots.NewMountDir();
        try
        {
            var copy = Path.Combine(dir, "context");
            FileCopier.Copy(source, rel, copy, new CopyOptions(null, true, null, r => !context.IsExcluded(r)));
            await WithAsync(env, binds, index + 1, [.. mounts, new BindMount(copy, target, !readOnly)], run, ct).ConfigureAwait(false);
        }
        finally { Img.Fs.FileTree.RemoveTree(dir); }
    }
}
