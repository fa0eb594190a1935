using System.Collections.Concurrent;
using Img.Dockerfile;
using Img.Oci;

namespace Img.Build.Graph.Convert;

/// <summary>
/// Resolves a base image for a platform: its pinned reference and config (a registry or store lookup).
/// <paramref name="reference"/> is docker's normalised name, or <c>oci-layout://DIR[:TAG|@DIGEST]</c> for a named context.
/// </summary>
public delegate Task<ImageMetadata> ResolveImage(string reference, Platform platform, CancellationToken ct);

/// <summary>
/// Conversion with base images resolved on the way, as BuildKit's frontend asks its meta resolver: a pass converts
/// with what is resolved so far and notes every image it asked for and did not have; those are resolved at once, in
/// parallel, and the conversion runs again — a pass takes milliseconds, and a base's ONBUILD triggers can name images
/// only its resolved config tells. Each image is resolved once.
/// </summary>
public static class ImageResolution
{
    public static async Task<BuildGraph> ConvertAsync(DockerfileDocument document, ConvertOptions options, ResolveImage resolve, CancellationToken ct)
    {
        var resolved = new ConcurrentDictionary<(string, Platform), ImageMetadata>();
        while (true)
        {
            var pass = new Pass(resolved);
            var graph = DockerfileConverter.Convert(document, options with { Images = pass });
            if (pass.Missing.IsEmpty) return graph;
            await Task.WhenAll(pass.Missing.Keys.Select(async key =>
                resolved[key] = await resolve(key.Reference, key.Platform, ct).ConfigureAwait(false))).ConfigureAwait(false);
        }
    }

    /// <summary>One conversion's view: what is resolved, and what it asked for that is not.</summary>
    private sealed class Pass(ConcurrentDictionary<(string, Platform), ImageMetadata> resolved) : IImageMetadata
    {
        public ConcurrentDictionary<(string Reference, Platform Platform), bool> Missing { get; } = new();

        public ImageMetadata? Find(string reference, Platform platform)
        {
            if (resolved.TryGetValue((reference, platform), out var metadata)) return metadata;
            Missing[(reference, platform)] = true;
            return null;
        }
    }
}
