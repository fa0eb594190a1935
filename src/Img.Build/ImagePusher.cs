using Img.Content;
using Img.Oci;
using Img.Registry;

namespace Img.Build;

/// <summary>
/// The push half of the image exporter (<c>--push</c>, <c>-o type=registry</c>, <c>type=image,push=true</c>): every
/// name of the build goes to its registry after it is stored, inside the same "exporting to image" step, as BuildKit
/// shows it (<c>pushing layers</c>, <c>pushing manifest for NAME@DIGEST</c>).
/// </summary>
internal static class ImagePusher
{
    public static async Task PushAsync(BuildRequest request, RegistryClient registry, ContentStore content, Descriptor target, StepReporter step, CancellationToken ct)
    {
        if (request.Names.Count == 0)
            throw new BuildFailedException("push requires a name: use -t NAME or -o type=registry,name=NAME");
        // registry.insecure=true is the exporter's own: the build's client with the names' registries added as insecure.
        var client = request.Output.InsecureRegistry
            ? new RegistryClient(registry.Options with
            {
                InsecureRegistries = new HashSet<string>(registry.Options.InsecureRegistries.Concat(request.Names.Select(n => n.Domain)), StringComparer.OrdinalIgnoreCase),
            })
            : registry;
        step.Log("pushing layers");
        foreach (var name in request.Names)
        {
            try
            {
                await client.PushAsync(name, target, content, ct: ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                step.Error(e.Message);
                throw new BuildFailedException($"failed to push {name}: {e.Message}", e);
            }
            step.Log($"pushing manifest for {name}@{target.Digest} done");
        }
    }
}
