using Img.Oci;

namespace Img.Build.Graph;

/// <summary>
/// What a vertex does, as pure data (BuildKit's <c>Vertex.Sys()</c>, an LLB op): no execution here. The solver asks an
/// <see cref="IOpResolver"/> for the <see cref="IOp"/> that executes it.
/// </summary>
public interface IOpDefinition
{
    /// <summary>The op's kind ("exec", "file", "source.image" …), written first into its definition.</summary>
    string Kind { get; }

    /// <summary>Writes every field that changes what the op produces, always in the same order.</summary>
    void WriteTo(DefinitionWriter writer);
}

/// <summary>Digests of op definitions.</summary>
public static class OpDefinitions
{
    /// <summary>sha256 over the definition's canonical form, its kind first.</summary>
    public static Digest DigestOf(IOpDefinition definition)
    {
        var writer = new DefinitionWriter().Field("kind", definition.Kind);
        definition.WriteTo(writer);
        return writer.Finish();
    }
}
