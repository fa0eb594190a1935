using System.Collections.Concurrent;
using Img.Build.Graph;
using Img.Build.Graph.Convert;
using Img.Oci;

namespace Img.Build;

/// <summary>
/// The images the converter asks for, resolved through <see cref="BaseImages"/> — pulled and unpacked once, in
/// parallel, while the graph is made — and found again by the source ops: an image by the reference it was pinned
/// to, an OCI layout by its named context.
/// </summary>
internal sealed class SourceImages(BaseImages images, IReadOnlyDictionary<string, NamedContext> namedContexts)
{
    private readonly ConcurrentDictionary<(string Reference, Platform Platform), BaseImage> _pinned = new();

    /// <summary>The <see cref="ResolveImage"/> of the conversion: the image's config, its reference pinned to its manifest.</summary>
    public async Task<ImageMetadata> ResolveAsync(string reference, Platform platform, CancellationToken ct)
    {
        var image = await LoadAsync(reference, platform, ct).ConfigureAwait(false);
        var pinned = image.Material is { } m && !reference.StartsWith(OciLayoutScheme, StringComparison.Ordinal) ? reference + "@" + m.Digest : reference;
        _pinned[(pinned, platform)] = image;
        return new ImageMetadata(pinned, image.Config);
    }

    /// <summary>The image an <see cref="ImageSource"/> or <see cref="OciLayoutSource"/> names.</summary>
    public Task<BaseImage> LoadAsync(IOpDefinition source, CancellationToken ct) => source switch
    {
        ImageSource image when _pinned.TryGetValue((image.Reference, image.Platform), out var found) => Task.FromResult(found),
        ImageSource image => images.GetAsync(image.Reference, image.Platform, ct),
        OciLayoutSource layout => images.GetAsync(LayoutContextName(layout.Directory, layout.Selector), layout.Platform, ct),
        LocalSource local => images.GetAsync(local.Name, null, ct),
        _ => throw new ArgumentException($"{source.Kind} is not an image source", nameof(source)),
    };

    private const string OciLayoutScheme = "oci-layout://";

    private Task<BaseImage> LoadAsync(string reference, Platform platform, CancellationToken ct)
    {
        if (!reference.StartsWith(OciLayoutScheme, StringComparison.Ordinal)) return images.GetAsync(reference, platform, ct);
        var name = namedContexts.FirstOrDefault(kv => kv.Value.Kind == NamedContextKind.OciLayout && Identifier(kv.Value) == reference).Key
            ?? throw new BuildFailedException($"no build context names {reference}");
        return images.GetAsync(name, platform, ct);
    }

    private string LayoutContextName(string directory, string? selector) =>
        namedContexts.First(kv => kv.Value.Kind == NamedContextKind.OciLayout && kv.Value.Location == directory && kv.Value.Selector == selector).Key;

    /// <summary>How the converter names an OCI layout context (<c>oci-layout://DIR[:TAG|@DIGEST]</c>).</summary>
    private static string Identifier(NamedContext context) =>
        OciLayoutScheme + context.Location + (context.Selector is { } s ? (s.Contains(':', StringComparison.Ordinal) ? "@" : ":") + s : "");
}
