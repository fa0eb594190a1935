using Img.Oci;

namespace Img.Build;

/// <summary>Where a BuildKit named context (<c>--build-context NAME=VALUE</c>) comes from.</summary>
public enum NamedContextKind
{
    /// <summary>A local directory: its files are the stage's (or the copy's) root.</summary>
    Directory,
    /// <summary><c>docker-image://REF</c>: an image, stored or pulled.</summary>
    Image,
    /// <summary><c>oci-layout://PATH[:TAG|@DIGEST]</c>: an image in an OCI layout directory.</summary>
    OciLayout,
}

/// <summary>
/// One <c>--build-context</c>: a name that <c>FROM NAME</c>, <c>COPY --from=NAME</c> and <c>RUN --mount=from=NAME</c>
/// use in place of the image (or stage-less name) they would otherwise mean.
/// </summary>
/// <param name="Kind">What the value names.</param>
/// <param name="Location">The directory (full path) or the image reference.</param>
/// <param name="Selector">For an OCI layout: the tag (default <c>latest</c>) or <c>sha256:…</c> digest.</param>
public sealed record NamedContext(NamedContextKind Kind, string Location, string? Selector = null)
{
    /// <summary>Parses <c>NAME=VALUE</c> into the (lower-cased) name and the context.</summary>
    /// <exception cref="FormatException">No name, a kind img cannot read (git, URLs), or a missing directory.</exception>
    public static (string Name, NamedContext Context) Parse(string value)
    {
        var eq = value.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0 || eq == value.Length - 1) throw new FormatException($"invalid build context {value}: want NAME=VALUE");
        var name = value[..eq].ToLowerInvariant();
        var v = value[(eq + 1)..];
        if (v.StartsWith("docker-image://", StringComparison.Ordinal))
        {
            var reference = v["docker-image://".Length..];
            if (!Reference.TryParse(reference, out _, out var error)) throw new FormatException($"invalid build context {value}: {error}");
            return (name, new NamedContext(NamedContextKind.Image, reference));
        }
        if (v.StartsWith("oci-layout://", StringComparison.Ordinal))
        {
            var rest = v["oci-layout://".Length..];
            string? selector = null;
            var at = rest.LastIndexOf('@');
            var colon = rest.LastIndexOf(':');
            if (at > 0) (rest, selector) = (rest[..at], rest[(at + 1)..]);
            else if (colon > rest.LastIndexOf('/')) (rest, selector) = (rest[..colon], rest[(colon + 1)..]);
            if (selector is { } s && s.StartsWith("sha256", StringComparison.Ordinal) && !Digest.TryParse(s, out _))
                throw new FormatException($"invalid build context {value}: bad digest {s}");
            var dir = Path.GetFullPath(rest);
            if (!File.Exists(Path.Combine(dir, "index.json"))) throw new FormatException($"invalid build context {value}: {dir} is not an OCI layout (no index.json)");
            return (name, new NamedContext(NamedContextKind.OciLayout, dir, selector));
        }
        if (v.Contains("://", StringComparison.Ordinal) || v.StartsWith("git@", StringComparison.Ordinal) || v.StartsWith("target:", StringComparison.Ordinal))
            throw new FormatException($"invalid build context {value}: img reads local directories, docker-image:// and oci-layout:// contexts, not remote ones");
        var path = Path.GetFullPath(v);
        if (!System.IO.Directory.Exists(path)) throw new FormatException($"invalid build context {value}: directory {path} not found");
        return (name, new NamedContext(NamedContextKind.Directory, path));
    }
}
