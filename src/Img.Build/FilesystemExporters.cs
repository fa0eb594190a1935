using Img.Archive.Layers;
using Img.Oci;

namespace Img.Build;

/// <summary>
/// <c>type=tar</c>: the root filesystem as a tar; with several platforms one directory per platform in it
/// (<c>linux_amd64/</c>), as BuildKit writes them.
/// </summary>
internal sealed class RootfsTarExporter(BuildRequest request) : IExporter
{
    public async Task ExportAsync(BuildOutput output, ProgressSink progress, CancellationToken ct)
    {
        var step = progress.Start("exporting to client tarball");
        if (!output.IsIndex)
        {
            await output.Snapshots.WithViewAsync(output.Platforms[0].Snapshot, async root =>
            {
                await Exporters.WriteOutputAsync(request, s => LayerWriter.WriteTreeAsync(root, s, Compression.None, LayerFormats.RootTarOptions, ct), ct).ConfigureAwait(false);
                return true;
            }, ct).ConfigureAwait(false);
        }
        else
        {
            await WithViewsAsync(output, 0, [], async trees =>
                await Exporters.WriteOutputAsync(request, s => LayerWriter.WriteLayerAsync(new PrefixedTreesLayerSource(trees, LayerFormats.RootTarOptions), s, Compression.None, null, ct), ct)
                    .ConfigureAwait(false), ct).ConfigureAwait(false);
        }
        step.Done();
    }

    /// <summary>Mounts every platform's root read-only, then runs <paramref name="use"/> with (directory name, root) pairs.</summary>
    private static async Task WithViewsAsync(BuildOutput output, int i, List<(string, string)> trees, Func<List<(string, string)>, Task> use, CancellationToken ct)
    {
        if (i == output.Platforms.Count)
        {
            await use(trees).ConfigureAwait(false);
            return;
        }
        var platform = output.Platforms[i];
        await output.Snapshots.WithViewAsync(platform.Snapshot, async root =>
        {
            await WithViewsAsync(output, i + 1, [.. trees, (LocalExporter.DirectoryName(platform.Platform), root)], use, ct).ConfigureAwait(false);
            return true;
        }, ct).ConfigureAwait(false);
    }
}

/// <summary><c>type=local</c>: the root filesystem copied into a directory; with several platforms one subdirectory each.</summary>
internal sealed class LocalExporter(BuildRequest request) : IExporter
{
    public async Task ExportAsync(BuildOutput output, ProgressSink progress, CancellationToken ct)
    {
        var step = progress.Start("exporting to client directory");
        foreach (var platform in output.Platforms)
        {
            var dest = output.IsIndex ? Path.Combine(request.Output.Destination!, DirectoryName(platform.Platform)) : request.Output.Destination!;
            Directory.CreateDirectory(dest);
            await output.Snapshots.WithViewAsync(platform.Snapshot, async root =>
            {
                await TreeCopy.CopyAsync(root, dest, new TreeCopyOptions { PreserveOwnership = false }, ct).ConfigureAwait(false);
                return true;
            }, ct).ConfigureAwait(false);
        }
        step.Log("copying files done");
        step.Done();
    }

    /// <summary>BuildKit's per-platform directory: <c>linux/arm/v7</c> → <c>linux_arm_v7</c>.</summary>
    internal static string DirectoryName(Platform platform) => platform.ToString().Replace('/', '_');
}
