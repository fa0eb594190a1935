using Img.Oci;

namespace Img.Build.Graph;

/// <summary>
/// A base image (<c>FROM</c>, <c>COPY --from=image</c>, <c>RUN --mount from=image</c>): the reference as resolved by
/// the frontend (docker's normalised name, a digest when pinned) and the platform to take from an index.
/// </summary>
public sealed record ImageSource(string Reference, Platform Platform) : IOpDefinition
{
    public string Kind => "source.image";

    public void WriteTo(DefinitionWriter writer) => writer
        .Field("reference", Reference)
        .Field("platform", Platform.ToString())
        .Field("os.version", Platform.OSVersion);
}

/// <summary>
/// Files of a local directory the build was given: the context, or a <c>--build-context NAME=DIR</c>. Only the paths
/// the patterns select are the source; their content comes into the cache key through the readers' path selectors.
/// </summary>
public sealed record LocalSource(string Name) : IOpDefinition
{
    /// <summary>Patterns of paths to take (empty: everything).</summary>
    public IReadOnlyList<string> Include { get; init; } = [];

    /// <summary>Patterns of paths to leave out (the <c>.dockerignore</c> lines).</summary>
    public IReadOnlyList<string> Exclude { get; init; } = [];

    public string Kind => "source.local";

    public void WriteTo(DefinitionWriter writer) => writer
        .Field("name", Name)
        .Field("include", Include)
        .Field("exclude", Exclude);
}
