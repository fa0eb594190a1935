using System.Text.RegularExpressions;

namespace Img.Oci;

/// <summary>
/// An image reference normalised by docker's rules: <c>busybox</c> is
/// <c>docker.io/library/busybox:latest</c>; a first component with a dot, a colon or
/// <c>localhost</c> is a registry host.
/// </summary>
public sealed partial record Reference
{
    public const string DefaultDomain = "docker.io";
    public const string DefaultTag = "latest";

    /// <summary>Registry host, with port if any (<c>docker.io</c>, <c>localhost:5000</c>).</summary>
    public string Domain { get; }

    /// <summary>Repository path inside the registry (<c>library/busybox</c>).</summary>
    public string Path { get; }

    public string? Tag { get; }

    public Digest? Digest { get; }

    private Reference(string domain, string path, string? tag, Digest? digest)
    {
        Domain = domain;
        Path = path;
        Tag = tag;
        Digest = digest;
    }

    /// <summary><c>domain/path</c>, without tag or digest.</summary>
    public string Name => $"{Domain}/{Path}";

    /// <summary>The host to contact: Docker Hub's API lives at registry-1.docker.io.</summary>
    public string RegistryHost => Domain == DefaultDomain ? "registry-1.docker.io" : Domain;

    /// <summary>Parses and normalises; adds <c>:latest</c> when there is neither tag nor digest.</summary>
    public static Reference Parse(string text)
    {
        if (!TryParse(text, out var reference, out var error))
            throw new FormatException(error);
        return reference!;
    }

    public static bool TryParse(string? text, out Reference? reference, out string error)
    {
        reference = null;
        error = "invalid reference format";
        if (string.IsNullOrEmpty(text)) return false;
        if (AnchoredHex().IsMatch(text))
        {
            error = $"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings";
            return false;
        }

        var m = ReferenceGrammar().Match(text);
        if (!m.Success)
        {
            if (ReferenceGrammar().IsMatch(text.ToLowerInvariant()))
                error = "invalid reference format: repository name must be lowercase";
            return false;
        }

        string name = m.Groups["name"].Value;
        if (name.Length > 255)
        {
            error = "invalid reference format: repository name must not be more than 255 characters";
            return false;
        }

        string domain, path;
        int slash = name.IndexOf('/');
        string first = slash < 0 ? "" : name[..slash];
        if (slash < 0 || (!first.Contains('.') && !first.Contains(':') && first != "localhost" && first.ToLowerInvariant() == first))
        {
            domain = DefaultDomain;
            path = name;
        }
        else
        {
            domain = first;
            path = name[(slash + 1)..];
        }
        if (domain == "index.docker.io") domain = DefaultDomain;
        if (domain == DefaultDomain && !path.Contains('/')) path = "library/" + path;
        if (path.ToLowerInvariant() != path)
        {
            error = $"invalid reference format: repository name ({path}) must be lowercase";
            return false;
        }

        string? tag = m.Groups["tag"].Success ? m.Groups["tag"].Value : null;
        Digest? digest = null;
        if (m.Groups["digest"].Success)
        {
            if (!Oci.Digest.TryParse(m.Groups["digest"].Value, out var d))
            {
                error = "invalid checksum digest format";
                return false;
            }
            digest = d;
        }
        if (tag is null && digest is null) tag = DefaultTag;
        reference = new Reference(domain, path, tag, digest);
        error = "";
        return true;
    }

    /// <summary>The same repository with another tag (and no digest).</summary>
    public Reference WithTag(string tag) => new(Domain, Path, tag, null);

    public Reference WithDigest(Digest digest) => new(Domain, Path, null, digest);

    /// <summary>The tag or digest to ask a registry for.</summary>
    public string Selector => Digest?.ToString() ?? Tag ?? DefaultTag;

    /// <summary>Docker's short form: <c>busybox:latest</c>, <c>jess/thing:v1</c>.</summary>
    public string Familiar
    {
        get
        {
            string name = Name;
            if (Domain == DefaultDomain)
                name = Path.StartsWith("library/", StringComparison.Ordinal) && Path.IndexOf('/', 8) < 0 ? Path[8..] : Path;
            return name + Suffix;
        }
    }

    private string Suffix => (Tag is null ? "" : ":" + Tag) + (Digest is null ? "" : "@" + Digest);

    public override string ToString() => Name + Suffix;

    // name = [domain/]component(/component)*, then :tag, then @digest (docker/distribution's grammar).
    [GeneratedRegex(@"^(?<name>(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?/|\[[a-fA-F0-9:]+\](?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*)*)(?::(?<tag>[\w][\w.-]{0,127}))?(?:@(?<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$", RegexOptions.CultureInvariant)]
    private static partial Regex ReferenceGrammar();

    [GeneratedRegex("^[a-f0-9]{64}$")]
    private static partial Regex AnchoredHex();
}
