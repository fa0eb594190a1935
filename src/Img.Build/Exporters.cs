using Img.Archive.ImageArchive;
using Img.Content;
using Img.Oci;

namespace Img.Build;

/// <summary>One platform of a build's result: its image and its committed root filesystem (null when empty).</summary>
internal sealed record PlatformOutput(Platform Platform, BuildResult Result, string? Snapshot);

/// <summary>
/// What a build hands to its exporter (BuildKit's <c>exporter.Source</c>): the image it made — one platform's manifest,
/// or the index of several — each platform's root filesystem, and the snapshots that hold them.
/// </summary>
/// <param name="Target">The manifest (one platform) or index (several) in the content store.</param>
internal sealed record BuildOutput(Descriptor Target, IReadOnlyList<PlatformOutput> Platforms, SnapshotWork Snapshots)
{
    public bool IsIndex => MediaTypes.IsIndex(Target.MediaType);

    /// <summary>The platform whose manifest docker's <c>manifest.json</c> lists: the image's own, or the host's from an index.</summary>
    public Platform ArchivePlatform => IsIndex ? Platform.Host : Platforms[0].Result.ImageConfig.Platform;

    /// <summary>BuildKit's lines naming what is exported: each manifest and config, then the index.</summary>
    public void LogManifests(StepReporter step)
    {
        foreach (var p in Platforms)
        {
            step.Log($"exporting manifest {p.Result.Manifest.Digest} done");
            step.Log($"exporting config {p.Result.Config.Digest} done");
        }
        if (IsIndex) step.Log($"exporting manifest list {Target.Digest} done");
    }
}

/// <summary>Sends a build's output to one place (BuildKit's <c>ExporterInstance</c>): its attributes were resolved when it was made.</summary>
internal interface IExporter
{
    Task ExportAsync(BuildOutput output, ProgressSink progress, CancellationToken ct);
}

/// <summary>
/// The exporter <c>-o</c> names, resolved once before anything is built (BuildKit's <c>Resolve</c> → <c>Export</c>):
/// the image store, a docker/OCI archive, a root filesystem tar or a directory.
/// </summary>
internal static class Exporters
{
    /// <exception cref="BuildFailedException">No exporter has that type.</exception>
    public static IExporter Resolve(BuildRequest request, LocalStore store, Img.Registry.RegistryClient registry) => request.Output.Type switch
    {
        "image" => new ImageExporter(request, store, registry),
        "docker" => new ArchiveExporter(request, store, ArchiveFormat.Docker),
        "oci" => new ArchiveExporter(request, store, ArchiveFormat.Oci),
        "tar" => new RootfsTarExporter(request),
        "local" => new LocalExporter(request),
        var other => throw new BuildFailedException($"exporter \"{other}\" could not be found"),
    };

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

/// <summary><c>type=image</c>: names the image in the store (<c>-t</c>, <c>name=</c>), and pushes it with <c>push=true</c>.</summary>
internal sealed class ImageExporter(BuildRequest request, LocalStore store, Img.Registry.RegistryClient registry) : IExporter
{
    public async Task ExportAsync(BuildOutput output, ProgressSink progress, CancellationToken ct)
    {
        var step = progress.Start("exporting to image");
        step.Log("exporting layers done");
        output.LogManifests(step);
        foreach (var name in request.Names)
        {
            store.Metadata.PutImage(name.ToString(), output.Target);
            step.Log($"naming to {name} done");
        }
        if (request.Output.Push) await ImagePusher.PushAsync(request, registry, store.Content, output.Target, step, ct).ConfigureAwait(false);
        step.Done();
    }
}

/// <summary><c>type=docker|oci</c>: the image as an archive <c>docker load</c> and OCI tools read; without a name it names nothing.</summary>
internal sealed class ArchiveExporter(BuildRequest request, LocalStore store, ArchiveFormat format) : IExporter
{
    public async Task ExportAsync(BuildOutput output, ProgressSink progress, CancellationToken ct)
    {
        var step = progress.Start($"exporting to {request.Output.Type} image format");
        output.LogManifests(step);
        var images = request.Names.Select(n => new ArchiveImage(n, output.Target)).ToList();
        await Exporters.WriteOutputAsync(request, s => images.Count > 0
            ? ImageArchiveWriter.WriteAsync(s, store.Content, images, format, output.ArchivePlatform, ct)
            : ImageArchiveWriter.WriteUnnamedAsync(s, store.Content, output.Target, Platform.Host, ct), ct).ConfigureAwait(false);
        step.Log("sending tarball done");
        step.Done();
    }
}
