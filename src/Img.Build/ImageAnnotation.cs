namespace Img.Build;

/// <summary>Where an <c>--annotation</c> goes (buildx's types; several may be combined).</summary>
[Flags]
public enum AnnotationTargets
{
    /// <summary>The image manifest (the default when no type is given).</summary>
    Manifest = 1,
    /// <summary>The image index of a multi-platform build.</summary>
    Index = 2,
    /// <summary>The manifest's descriptor inside the index.</summary>
    ManifestDescriptor = 4,
}

/// <summary>One <c>--annotation [TYPE[,TYPE…]:]KEY=VALUE</c> (buildx syntax).</summary>
/// <param name="Targets">Where it is written.</param>
/// <param name="Key">The annotation key.</param>
/// <param name="Value">Its value.</param>
public sealed record ImageAnnotation(AnnotationTargets Targets, string Key, string Value)
{
    /// <summary>Parses one flag value.</summary>
    /// <exception cref="FormatException">No <c>=</c>, an empty key, or an unknown or unsupported type.</exception>
    public static ImageAnnotation Parse(string value)
    {
        var eq = value.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0) throw new FormatException($"invalid annotation {value}: want [type:]key=value");
        var left = value[..eq];
        var targets = AnnotationTargets.Manifest;
        var colon = left.IndexOf(':', StringComparison.Ordinal);
        if (colon >= 0)
        {
            targets = 0;
            foreach (var type in left[..colon].Split(',', StringSplitOptions.TrimEntries))
            {
                targets |= type switch
                {
                    "manifest" => AnnotationTargets.Manifest,
                    "index" => AnnotationTargets.Index,
                    "manifest-descriptor" => AnnotationTargets.ManifestDescriptor,
                    "index-descriptor" => throw new FormatException($"invalid annotation {value}: type index-descriptor is only meaningful in an OCI layout's index.json, which img does not write"),
                    _ when type.Contains('[', StringComparison.Ordinal) => throw new FormatException($"invalid annotation {value}: per-platform annotation types are not supported; the annotation applies to every platform"),
                    _ => throw new FormatException($"invalid annotation {value}: unknown type \"{type}\" (manifest, index, manifest-descriptor)"),
                };
            }
            left = left[(colon + 1)..];
        }
        if (left.Length == 0) throw new FormatException($"invalid annotation {value}: empty key");
        return new ImageAnnotation(targets, left, value[(eq + 1)..]);
    }

    /// <summary>The annotations of <paramref name="all"/> aimed at <paramref name="target"/> (later values win), or null when none.</summary>
    public static IReadOnlyDictionary<string, string>? For(IReadOnlyList<ImageAnnotation> all, AnnotationTargets target, IReadOnlyDictionary<string, string>? existing = null)
    {
        var chosen = all.Where(a => a.Targets.HasFlag(target)).ToList();
        if (chosen.Count == 0) return existing;
        var map = existing is null ? new SortedDictionary<string, string>(StringComparer.Ordinal) : new SortedDictionary<string, string>(existing.ToDictionary(), StringComparer.Ordinal);
        foreach (var a in chosen) map[a.Key] = a.Value;
        return map;
    }
}
