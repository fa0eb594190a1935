using Img.Archive.ImageArchive;
using Img.Archive.Layers;
using Img.Content;
using Img.Oci;

namespace Img.Build;

/// <summary>Sends a build result where <c>-o</c> asked: the image store, a docker/OCI archive, a rootfs tar or a directory.</summary>
internal static class Exporters
{
    public static async Task ExportAsync(BuildRequest request, LocalStore store, SnapshotWork snapshots, StageState final, BuildResult result,
        ProgressSink progress, CancellationToken ct)
    {
        var output = request.Output;
        void LogManifest(StepReporter step)
        {
            step.Log($"exporting manifest {result.Manifest.Digest} done");
            step.Log($"exporting config {result.Config.Digest} done");
        }
        if (await ExportImageAsync(request, store, result.Manifest, result.ImageConfig.Platform, LogManifest, progress, ct).ConfigureAwait(false)) return;
        switch (output.Type)
        {
            case "tar":
                {
                    var step = progress.Start("exporting to client tarball");
                    await snapshots.WithViewAsync(final.Snapshot, async root =>
                    {
                        await WriteOutputAsync(request, s => LayerWriter.WriteTreeAsync(root, s, Compression.None, Builder.RootTarOptions, ct), ct).ConfigureAwait(false);
                        return true;
                    }, ct).ConfigureAwait(false);
                    step.Done();
                    break;
                }
            case "local":
                {
                    var step = progress.Start("exporting to client directory");
                    var dest = output.Destination!;
                    Directory.CreateDirectory(dest);
                    await snapshots.WithViewAsync(final.Snapshot, async root =>
                    {
                        await TreeCopy.CopyAsync(root, dest, new TreeCopyOptions { PreserveOwnership = false }, ct).ConfigureAwait(false);
                        return true;
                    }, ct).ConfigureAwait(false);
                    step.Log($"copying files done");
                    step.Done();
                    break;
                }
            default:
                throw new BuildFailedException($"exporter \"{output.Type}\" could not be found");
        }
    }

    /// <summary>
    /// The exporters that take the image itself, <paramref name="target"/> (a manifest, or the index of several
    /// platforms): the image store (<c>-t</c> and <c>name=</c> name it) and docker/OCI archives, whose docker
    /// manifest.json lists the image for <paramref name="archivePlatform"/>. False for the filesystem exporters.
    /// </summary>
    internal static async Task<bool> ExportImageAsync(BuildRequest request, LocalStore store, Descriptor target, Platform archivePlatform,
        Action<StepReporter> logManifests, ProgressSink progress, CancellationToken ct)
    {
        var output = request.Output;
        switch (output.Type)
        {
            case "image":
                {
                    var step = progress.Start("exporting to image");
                    step.Log("exporting layers done");
                    logManifests(step);
                    foreach (var name in request.Names)
                    {
                        store.Metadata.PutImage(name.ToString(), target);
                        step.Log($"naming to {name} done");
                    }
                    if (output.Push) await ImagePusher.PushAsync(request, store.Content, target, step, ct).ConfigureAwait(false);
                    step.Done();
                    return true;
                }
            case "docker" or "oci":
                {
                    var step = progress.Start($"exporting to {output.Type} image format");
                    logManifests(step);
                    var format = output.Type == "docker" ? ArchiveFormat.Docker : ArchiveFormat.Oci;
                    var images = request.Names.Select(n => new ArchiveImage(n, target)).ToList();
                    // Without a name the archive names nothing (no made-up "image:latest").
                    await WriteOutputAsync(request, s => images.Count > 0
                        ? ImageArchiveWriter.WriteAsync(s, store.Content, images, format, archivePlatform, ct)
                        : ImageArchiveWriter.WriteUnnamedAsync(s, store.Content, target, Platform.Host, ct), ct).ConfigureAwait(false);
                    step.Log("sending tarball done");
                    step.Done();
                    return true;
                }
            default:
                return false;
        }
    }

    /// <summary>Writes to standard output, or to a temporary file renamed over the destination only when complete.</summary>
    internal static async Task WriteOutputAsync(BuildRequest request, Func<Stream, Task> write, CancellationToken ct)
    {
        if (request.Output.ToStdout)
        {
            var stdout = request.OpenStdout?.Invoke() ?? throw new BuildFailedException("no standard output to write the result to");
            await using (stdout.ConfigureAwait(false))
            {
                await write(stdout).ConfigureAwait(false);
                await stdout.FlushAsync(ct).ConfigureAwait(false);
            }
            return;
        }
        var dest = request.Output.Destination!;
        if (Directory.Exists(dest)) throw new BuildFailedException("destination file is a directory");
        var file = new AtomicFile(dest);
        await using (file.ConfigureAwait(false))
        {
            await write(file.Stream).ConfigureAwait(false);
            await file.CommitAsync(ct).ConfigureAwait(false);
        }
    }
}
