using Img.Oci;

namespace Img.Build.Graph;

/// <summary>
/// A file fetched over HTTP(S) (<c>ADD https://…</c>): the result is a filesystem holding one file,
/// <see cref="Filename"/>, mode 0600 as BuildKit's http source writes it. With a <see cref="Checksum"/> the body must
/// have that digest.
/// </summary>
public sealed record HttpSource(string Url, string Filename) : IOpDefinition
{
    /// <summary><c>ADD --checksum</c> as written (<c>sha256:…</c>), or null.</summary>
    public string? Checksum { get; init; }

    public string Kind => "source.http";

    public void WriteTo(DefinitionWriter writer) => writer
        .Field("url", Url)
        .Field("filename", Filename)
        .Field("checksum", Checksum);
}

/// <summary>
/// An image in an OCI layout directory (<c>--build-context NAME=oci-layout://DIR[:TAG|@DIGEST]</c>): the manifest the
/// selector (a tag, <c>latest</c> when null, or a digest) names, for <see cref="Platform"/>.
/// </summary>
public sealed record OciLayoutSource(string Directory, string? Selector, Platform Platform) : IOpDefinition
{
    public string Kind => "source.oci-layout";

    public void WriteTo(DefinitionWriter writer) => writer
        .Field("directory", Directory)
        .Field("selector", Selector)
        .Field("platform", Platform.ToString())
        .Field("os.version", Platform.OSVersion);
}
