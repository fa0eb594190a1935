using Img.Oci;

namespace Img.Build.Graph;

/// <summary>
/// How an op's result is cached (BuildKit's <c>CacheMap</c>): the op's own digest plus, for each input in order, what
/// of it the op reads. The cache key is chained from these (<see cref="CacheKeys"/>).
/// </summary>
public sealed record CacheMap(Digest Digest, IReadOnlyList<InputSelector> Inputs)
{
    /// <summary>A map that reads each of <paramref name="inputCount"/> inputs whole.</summary>
    public static CacheMap Whole(Digest digest, int inputCount) =>
        new(digest, Enumerable.Repeat<InputSelector>(InputSelector.WholeInput, inputCount).ToArray());
}

/// <summary>What an op reads of one input.</summary>
public abstract record InputSelector
{
    /// <summary>The whole input: the key takes the input's own cache key.</summary>
    public static InputSelector WholeInput { get; } = new Whole();

    /// <summary>Only these paths: the key takes their content digest, so a change elsewhere in the input is a hit.</summary>
    public static InputSelector Select(IReadOnlyList<string> paths, ContentDigestFunc digest) => new SelectedPaths(paths, digest);

    public sealed record Whole : InputSelector;

    /// <param name="Paths">The paths (or patterns) the op reads, in the order it names them.</param>
    /// <param name="Digest">Computes the digest of exactly those paths' content in the input's result.</param>
    public sealed record SelectedPaths(IReadOnlyList<string> Paths, ContentDigestFunc Digest) : InputSelector;
}

/// <summary>
/// The digest of the content <paramref name="paths"/> select in a solved input (BuildKit's <c>ComputeDigestFunc</c>); a
/// result that cannot digest its content may answer with its key.
/// </summary>
public delegate ValueTask<Digest> ContentDigestFunc(SolvedInput input, IReadOnlyList<string> paths, CancellationToken ct);

/// <summary>The key a result is cached under.</summary>
public readonly record struct CacheKey(Digest Digest)
{
    public override string ToString() => Digest.ToString();
}

/// <summary>Chains a vertex's cache key from its cache map and its inputs' keys or selected content.</summary>
public static class CacheKeys
{
    public static async ValueTask<CacheKey> ComputeAsync(CacheMap map, IReadOnlyList<SolvedInput> inputs, CancellationToken ct)
    {
        if (map.Inputs.Count != inputs.Count)
            throw new InvalidOperationException($"the cache map describes {map.Inputs.Count} inputs, the vertex has {inputs.Count}");
        var writer = new DefinitionWriter().Field("op", map.Digest).Field("inputs", inputs.Count);
        for (var i = 0; i < inputs.Count; i++)
        {
            switch (map.Inputs[i])
            {
                case InputSelector.SelectedPaths selected:
                    var content = await selected.Digest(inputs[i], selected.Paths, ct).ConfigureAwait(false);
                    writer.Field("paths", selected.Paths).Field("content", content);
                    break;
                default:
                    writer.Field("input", inputs[i].Key.Digest);
                    break;
            }
        }
        return new CacheKey(writer.Finish());
    }
}

/// <summary>A solved input of a vertex: its result and the key it was found or stored under.</summary>
public readonly record struct SolvedInput(IResult Result, CacheKey Key);
