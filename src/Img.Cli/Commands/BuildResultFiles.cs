using System.Text.Json;
using Img.Build;
using Img.Cli.Framework;
using Img.Content;

namespace Img.Cli.Commands;

/// <summary>
/// <c>--iidfile</c> (the image ID: config digest, or the index digest for several platforms) and <c>--metadata-file</c>
/// (buildx's keys: <c>containerimage.digest</c>, <c>containerimage.config.digest</c>, <c>containerimage.descriptor</c>,
/// <c>image.name</c>), each written whole under a temporary name and renamed into place.
/// </summary>
public sealed class BuildResultFiles(string iidFile, string metadataFile)
{
    public async Task WriteAsync(BuiltImage built, BuildRequest request, CancellationToken ct)
    {
        if (iidFile.Length > 0) await WriteFileAsync(iidFile, System.Text.Encoding.UTF8.GetBytes(built.ImageId.ToString()), ct).ConfigureAwait(false);
        if (metadataFile.Length > 0) await WriteFileAsync(metadataFile, Metadata(built, request), ct).ConfigureAwait(false);
    }

    /// <summary>The metadata document; the image keys only for exporters that produce an image (image, docker, oci), as buildx.</summary>
    public static byte[] Metadata(BuiltImage built, BuildRequest request)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            if (request.Output.Type is "image" or "docker" or "oci")
            {
                if (built.Config is { } config) w.WriteString("containerimage.config.digest", config.Digest.ToString());
                w.WriteStartObject("containerimage.descriptor");
                w.WriteString("mediaType", built.Target.MediaType);
                w.WriteString("digest", built.Target.Digest.ToString());
                w.WriteNumber("size", built.Target.Size);
                w.WriteEndObject();
                w.WriteString("containerimage.digest", built.Target.Digest.ToString());
                if (request.Names.Count > 0) w.WriteString("image.name", string.Join(',', request.Names));
            }
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private static async Task WriteFileAsync(string path, byte[] bytes, CancellationToken ct)
    {
        try
        {
            var file = new AtomicFile(path);
            await using (file.ConfigureAwait(false))
            {
                await file.Stream.WriteAsync(bytes, ct).ConfigureAwait(false);
                await file.CommitAsync(ct).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CommandException($"writing {path}: {e.Message}");
        }
    }
}
