using Img.Content;
using Img.Oci;

namespace Img.Build;

/// <summary>What the store already knows about base images, without asking a registry (for the build checks).</summary>
public static class StoredBaseImages
{
    /// <summary>
    /// The config environment of each of <paramref name="names"/> for <paramref name="platform"/>, as a build without
    /// <c>--pull</c> would use it (a stored image, else what an earlier build resolved the name to); names the store
    /// cannot answer for are left out.
    /// </summary>
    public static async Task<IReadOnlyDictionary<string, IReadOnlyList<string>>> EnvironmentsAsync(LocalStore store, IEnumerable<string> names,
        Platform platform, CancellationToken ct)
    {
        var resolved = new ResolvedBaseImages(store.StateDir);
        var result = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var name in names.Distinct(StringComparer.Ordinal))
        {
            if (!Reference.TryParse(name, out var reference, out _)) continue;
            var target = store.Metadata.GetImage(reference!.ToString())?.Target ?? resolved.Find(reference, store.Content);
            if (target is null) continue;
            try
            {
                if (await ContentWalker.SelectManifestAsync(store.Content, target, platform, ct).ConfigureAwait(false) is not { } manifestDesc) continue;
                var manifest = await ContentWalker.ReadManifestAsync(store.Content, manifestDesc, ct).ConfigureAwait(false);
                var config = await ContentWalker.ReadConfigAsync(store.Content, manifest.Config, ct).ConfigureAwait(false);
                result[name] = config.Config.Env ?? [];
            }
            catch (Exception e) when (e is BlobNotFoundException or FormatException or System.Text.Json.JsonException)
            {
                // A damaged or partial image is simply not known here; the build itself reports it.
            }
        }
        return result;
    }
}
