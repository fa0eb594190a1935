using Img.Oci;

namespace Img.Build.CacheSharing;

/// <summary>Where a shared build cache lives.</summary>
public enum CacheType
{
    /// <summary>A cache manifest in a registry (<c>type=registry,ref=…</c>), or for import also an image with inline cache.</summary>
    Registry,
    /// <summary>An OCI image layout directory (<c>type=local,dest=…</c> / <c>src=…</c>).</summary>
    Local,
    /// <summary>The cache map inside the exported image's config (<c>type=inline</c>; export only).</summary>
    Inline,
}

/// <summary>One <c>--cache-to</c> value.</summary>
/// <param name="Type">Where the cache goes.</param>
/// <param name="Ref">The registry reference (type=registry).</param>
/// <param name="Dest">The layout directory, full path (type=local).</param>
/// <param name="Tag">The layout's <c>org.opencontainers.image.ref.name</c> (type=local; default <c>latest</c>).</param>
/// <param name="Max">mode=max: every step of every stage built, not only the final stage's chain.</param>
/// <param name="IgnoreError">ignore-error=true: a failed export is a warning, not a failed build.</param>
public sealed record CacheExportSpec(CacheType Type, Reference? Ref, string? Dest, string Tag, bool Max, bool IgnoreError)
{
    /// <summary>How progress names the destination.</summary>
    public string Display => Type switch
    {
        CacheType.Registry => Ref!.ToString(),
        CacheType.Local => Dest!,
        _ => "inline",
    };
}

/// <summary>One <c>--cache-from</c> value.</summary>
/// <param name="Type">Registry or local.</param>
/// <param name="Ref">The registry reference (a cache manifest or an image carrying inline cache).</param>
/// <param name="Src">The layout directory, full path.</param>
/// <param name="Tag">The layout entry to read (default <c>latest</c>).</param>
public sealed record CacheImportSpec(CacheType Type, Reference? Ref, string? Src, string Tag)
{
    /// <summary>How progress names the source.</summary>
    public string Display => Type == CacheType.Registry ? Ref!.ToString() : Src!;
}

/// <summary>An invalid <c>--cache-to</c> or <c>--cache-from</c> value.</summary>
public sealed class CacheSpecException(string message) : Exception(message);

/// <summary>
/// Parses <c>--cache-to</c>/<c>--cache-from</c> with buildctl's rules: CSV <c>key=value</c> fields, keys lower-cased,
/// <c>type</c> required; a value without <c>type=</c> is a registry reference. Unknown attributes are ignored, as
/// BuildKit does.
/// </summary>
public static class CacheSpecs
{
    /// <summary>Parses every <c>--cache-to</c> value.</summary>
    /// <exception cref="CacheSpecException">The message names the value and what is wrong.</exception>
    public static IReadOnlyList<CacheExportSpec> ParseExports(IEnumerable<string> values) => values.Select(ParseExport).ToList();

    /// <summary>Parses every <c>--cache-from</c> value.</summary>
    /// <exception cref="CacheSpecException">The message names the value and what is wrong.</exception>
    public static IReadOnlyList<CacheImportSpec> ParseImports(IEnumerable<string> values) => values.Select(ParseImport).ToList();

    public static CacheExportSpec ParseExport(string value)
    {
        var (type, attrs) = Fields(value, "--cache-to");
        attrs.TryGetValue("mode", out var mode);
        bool max = mode switch
        {
            null or "" or "min" => false,
            "max" => true,
            _ => throw new CacheSpecException($"--cache-to {value}: invalid mode \"{mode}\": use min or max"),
        };
        bool ignoreError = attrs.TryGetValue("ignore-error", out var ie) && ie.Length > 0 && (bool.TryParse(ie, out var b)
            ? b : throw new CacheSpecException($"--cache-to {value}: invalid ignore-error \"{ie}\": use true or false"));
        var tag = Tag(attrs, value, "--cache-to");
        switch (type)
        {
            case "registry":
                return new CacheExportSpec(CacheType.Registry, Ref(attrs, value, "--cache-to"), null, tag, max, ignoreError);
            case "local":
                if (!attrs.TryGetValue("dest", out var dest) || dest.Length == 0)
                    throw new CacheSpecException($"--cache-to {value}: type=local requires dest=<directory>");
                return new CacheExportSpec(CacheType.Local, null, Path.GetFullPath(dest), tag, max, ignoreError);
            case "inline":
                // The image carries only its own layers: intermediate stages' results have nowhere to go.
                if (max) throw new CacheSpecException($"--cache-to {value}: type=inline supports only mode=min");
                return new CacheExportSpec(CacheType.Inline, null, null, tag, false, ignoreError);
            default:
                throw new CacheSpecException($"--cache-to {value}: unknown cache exporter \"{type}\" (use registry, local or inline)");
        }
    }

    public static CacheImportSpec ParseImport(string value)
    {
        var (type, attrs) = Fields(value, "--cache-from");
        var tag = Tag(attrs, value, "--cache-from");
        switch (type)
        {
            case "registry":
                return new CacheImportSpec(CacheType.Registry, Ref(attrs, value, "--cache-from"), null, tag);
            case "local":
                if (!attrs.TryGetValue("src", out var src) || src.Length == 0)
                    throw new CacheSpecException($"--cache-from {value}: type=local requires src=<directory>");
                return new CacheImportSpec(CacheType.Local, null, Path.GetFullPath(src), tag);
            case "inline":
                throw new CacheSpecException($"--cache-from {value}: inline cache is read with type=registry,ref=<image> (or just the image reference)");
            default:
                throw new CacheSpecException($"--cache-from {value}: unknown cache importer \"{type}\" (use registry or local)");
        }
    }

    private static (string Type, Dictionary<string, string> Attrs) Fields(string value, string flag)
    {
        var attrs = new Dictionary<string, string>(StringComparer.Ordinal);
        if (string.IsNullOrWhiteSpace(value)) throw new CacheSpecException($"{flag}: empty value");
        // buildctl: a value with no "type=" anywhere is a registry reference.
        if (!value.Contains("type=", StringComparison.Ordinal))
        {
            attrs["ref"] = value;
            return ("registry", attrs);
        }
        List<string> fields;
        try { fields = CsvFields.Split(value); }
        catch (FormatException e) { throw new CacheSpecException($"{flag} {value}: {e.Message}"); }
        string? type = null;
        foreach (var field in fields)
        {
            var eq = field.IndexOf('=', StringComparison.Ordinal);
            if (eq < 0) throw new CacheSpecException($"{flag} {value}: invalid value {field}");
            var key = field[..eq].Trim().ToLowerInvariant();
            var v = field[(eq + 1)..];
            if (key == "type") type = v;
            else attrs[key] = v;
        }
        if (string.IsNullOrEmpty(type)) throw new CacheSpecException($"{flag} {value}: requires type=<type>");
        return (type, attrs);
    }

    private static Reference Ref(Dictionary<string, string> attrs, string value, string flag)
    {
        if (!attrs.TryGetValue("ref", out var raw) || raw.Length == 0)
            throw new CacheSpecException($"{flag} {value}: type=registry requires ref=<reference>");
        if (!Reference.TryParse(raw, out var reference, out var error))
            throw new CacheSpecException($"{flag} {value}: invalid reference \"{raw}\": {error}");
        return reference!;
    }

    private static string Tag(Dictionary<string, string> attrs, string value, string flag)
    {
        if (!attrs.TryGetValue("tag", out var tag) || tag.Length == 0) return Reference.DefaultTag;
        // The OCI layout's ref.name: a tag's characters keep it one path-free token.
        if (tag.Length > 128 || !tag.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-'))
            throw new CacheSpecException($"{flag} {value}: invalid tag \"{tag}\"");
        return tag;
    }
}
