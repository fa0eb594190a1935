namespace Img.Build;

/// <summary>Where a build's result goes: one <c>-o/--output</c> value parsed with BuildKit buildctl's rules.</summary>
public sealed class OutputSpec
{
    private OutputSpec(string type, IReadOnlyDictionary<string, string> attrs, string? destination, bool toStdout)
    {
        Type = type;
        Attrs = attrs;
        Destination = destination;
        ToStdout = toStdout;
    }

    /// <summary>
    /// The exporter: <c>image</c>, <c>local</c>, <c>tar</c>, <c>docker</c>, <c>oci</c> (others fail at build time).
    /// <c>type=registry</c> is buildx's shorthand for <c>type=image,push=true</c> and is read as that.
    /// </summary>
    public string Type { get; }

    /// <summary>Attributes other than <c>type</c> and <c>dest</c>, keys lower-cased.</summary>
    public IReadOnlyDictionary<string, string> Attrs { get; }

    /// <summary>The destination file or directory (full path), or null for the image exporter and stdout.</summary>
    public string? Destination { get; }

    /// <summary>True when a tar/docker/oci result is written to standard output.</summary>
    public bool ToStdout { get; }

    /// <summary>The <c>name</c> attribute, or null.</summary>
    public string? Name => Attrs.TryGetValue("name", out var n) && n.Length > 0 ? n : null;

    /// <summary>Whether the image exporter also pushes every name to its registry (<c>push=true</c>, <c>type=registry</c>).</summary>
    public bool Push => Type == "image" && Attrs.TryGetValue("push", out var p) && bool.TryParse(p, out var b) && b;

    /// <summary>Whether a push may use plain HTTP or unverified TLS (<c>registry.insecure=true</c>).</summary>
    public bool InsecureRegistry => Attrs.TryGetValue("registry.insecure", out var v) && bool.TryParse(v, out var b) && b;

    /// <summary>This image output with <c>push=true</c> (<c>--push</c>).</summary>
    /// <exception cref="OutputSpecException">The output is not an image: there is nothing to push.</exception>
    public OutputSpec WithPush()
    {
        if (Type != "image") throw new OutputSpecException($"--push cannot be used with an output of type {Type}: use -o type=image or type=registry");
        var attrs = new Dictionary<string, string>(Attrs, StringComparer.Ordinal) { ["push"] = "true" };
        return new OutputSpec(Type, attrs, Destination, ToStdout);
    }

    /// <summary>Whether layers and manifests use OCI media types (<c>oci-mediatypes=true</c>, and always for <c>type=oci</c>).</summary>
    // zstd layers have no Docker media type: like BuildKit, compression=zstd implies OCI media types.
    public bool OciMediaTypes => Type == "oci" || (Attrs.TryGetValue("compression", out var c) && c == "zstd")
        || (Attrs.TryGetValue("oci-mediatypes", out var v) && bool.TryParse(v, out var b) && b);

    /// <summary>The image exporter used when no <c>-o</c> is given.</summary>
    public static OutputSpec DefaultImage { get; } = new("image", new Dictionary<string, string>(), null, false);

    /// <summary>
    /// Parses <paramref name="value"/>. <paramref name="stdoutIsTerminal"/> refuses a tar to a console, as the original does.
    /// </summary>
    /// <exception cref="OutputSpecException">The value breaks one of buildctl's rules; the message is the original's.</exception>
    public static OutputSpec Parse(string value, bool stdoutIsTerminal)
    {
        List<string> fields;
        try
        {
            fields = CsvFields.Split(value);
        }
        catch (FormatException e)
        {
            throw new OutputSpecException(e.Message);
        }
        string? type = null;
        string? dest = null;
        var attrs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var field in fields)
        {
            var eq = field.IndexOf('=', StringComparison.Ordinal);
            if (eq < 0) throw new OutputSpecException($"invalid value {field}");
            var key = field[..eq].Trim().ToLowerInvariant();
            var v = field[(eq + 1)..];
            switch (key)
            {
                case "type": type = v; break;
                case "dest": dest = v; break;
                case "output": throw new OutputSpecException($"output={v} not supported for --output, you meant dest={v}?");
                default: attrs[key] = v; break;
            }
        }
        if (string.IsNullOrEmpty(type)) throw new OutputSpecException("--output requires type=<type>");
        switch (type)
        {
            case "local":
                if (string.IsNullOrEmpty(dest)) throw new OutputSpecException("output directory is required for local exporter");
                return new OutputSpec(type, attrs, Path.GetFullPath(dest), false);
            case "tar" or "docker" or "oci":
                if (string.IsNullOrEmpty(dest) || dest == "-")
                {
                    if (stdoutIsTerminal) throw new OutputSpecException($"output file is required for {type} exporter. refusing to write to console");
                    return new OutputSpec(type, attrs, null, true);
                }
                if (Directory.Exists(dest)) throw new OutputSpecException("destination file is a directory");
                return new OutputSpec(type, attrs, Path.GetFullPath(dest), false);
            case "registry":
                if (!string.IsNullOrEmpty(dest)) throw new OutputSpecException($"invalid output option: output: output {dest} is not supported by image exporter");
                attrs["push"] = "true";
                return new OutputSpec("image", attrs, null, false);
            default:
                if (!string.IsNullOrEmpty(dest)) throw new OutputSpecException($"invalid output option: output: output {dest} is not supported by image exporter");
                return new OutputSpec(type, attrs, null, false);
        }
    }
}

/// <summary>An invalid <c>--output</c> value.</summary>
public sealed class OutputSpecException(string message) : Exception(message);
