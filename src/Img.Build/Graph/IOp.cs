namespace Img.Build.Graph;

/// <summary>
/// How the solver evaluates one vertex (BuildKit's <c>solver.Op</c>): first its cache map, then — when the cache has
/// no result for the key chained from the map and the inputs' keys — <see cref="ExecAsync"/>.
/// </summary>
public interface IOp
{
    /// <summary>
    /// The op's cache digest (usually its definition's; an image source's is the resolved manifest's) and, per input,
    /// what of that input it reads.
    /// </summary>
    ValueTask<CacheMap> CacheMapAsync(CancellationToken ct);

    /// <summary>
    /// Runs the op on its inputs' results, in the vertex's input order. The inputs stay owned by the solver; the
    /// returned result is handed to the solver, which releases it. On failure nothing is returned: the op releases
    /// whatever it made.
    /// </summary>
    Task<IResult> ExecAsync(IReadOnlyList<IResult> inputs, CancellationToken ct);
}

/// <summary>Finds the op that executes a vertex's definition (BuildKit's <c>ResolveOpFunc</c>).</summary>
public interface IOpResolver
{
    IOp Resolve(Vertex vertex);
}

/// <summary>What a vertex produced: a snapshot, a context checkout … typed by the engine that made it.</summary>
public interface IResult
{
    /// <summary>Gives back what the result holds (a snapshot reference, a lease); called once, by its owner.</summary>
    ValueTask ReleaseAsync();
}
