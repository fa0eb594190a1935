using Img.Dockerfile;
using Img.Fs;

namespace Img.Build;

/// <summary>The build's definition read once, each as a step: the Dockerfile (its bytes kept for provenance) and <c>.dockerignore</c>.</summary>
internal static class DefinitionReading
{
    public static async Task<(byte[] Bytes, string Text)> ReadDockerfileAsync(BuildRequest request, ProgressSink sink, CancellationToken ct)
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

    public static async Task<DockerIgnore> ReadIgnoreAsync(BuildRequest request, ProgressSink sink, CancellationToken ct)
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
}
