using Img.Oci;

namespace Img.Build.Graph;

/// <summary>
/// A node of the build graph: an op definition and the vertices whose results it takes, in order. Its
/// <see cref="Digest"/> covers the definition and, through the inputs' digests, everything below it, so two vertices
/// with the same digest are the same work and the solver runs it once.
/// </summary>
public sealed class Vertex
{
    public Vertex(string name, IOpDefinition definition, IReadOnlyList<Vertex>? inputs = null, bool ignoreCache = false)
    {
        Name = name;
        Definition = definition;
        Inputs = inputs is null ? [] : [.. inputs];
        IgnoreCache = ignoreCache;
        var writer = new DefinitionWriter()
            .Field("definition", OpDefinitions.DigestOf(definition))
            .Field("inputs", Inputs.Count);
        foreach (var input in Inputs)
            writer.Field("input", input.Digest);
        Digest = writer.Finish();
    }

    /// <summary>The name progress shows, e.g. <c>[stage-0 2/3] RUN make</c>; not part of the digest.</summary>
    public string Name { get; }

    public IOpDefinition Definition { get; }

    public IReadOnlyList<Vertex> Inputs { get; }

    /// <summary>Run even when the cache holds a result (<c>--no-cache</c>); not part of the digest.</summary>
    public bool IgnoreCache { get; }

    public Digest Digest { get; }

    public override string ToString() => $"{Name} ({Digest.Short})";
}
