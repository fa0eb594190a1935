namespace Img.Build.Graph;

/// <summary>
/// Where results are found by cache key before an op runs, and kept after (the metadata store's cache records in img;
/// an in-memory one in tests).
/// </summary>
public interface ICacheStore
{
    /// <summary>
    /// A result stored under <paramref name="key"/>, handed to the caller to release; null when there is none.
    /// <paramref name="inputs"/> are the vertex's solved inputs (a result restored from elsewhere is rebuilt on them).
    /// </summary>
    ValueTask<IResult?> TryLoadAsync(CacheKey key, Vertex vertex, IReadOnlyList<SolvedInput> inputs, CancellationToken ct);

    /// <summary>Records <paramref name="result"/> under <paramref name="key"/>; the store takes its own reference.</summary>
    ValueTask SaveAsync(CacheKey key, Vertex vertex, IReadOnlyList<SolvedInput> inputs, IResult result, CancellationToken ct);

    /// <summary>
    /// Held from the lookup of <paramref name="key"/> until its result is saved, so that work on one key is done once
    /// even by solvers in other processes sharing the store; by default nothing is held.
    /// </summary>
    ValueTask<IDisposable?> LockAsync(CacheKey key, Vertex vertex, CancellationToken ct) => ValueTask.FromResult<IDisposable?>(null);
}

/// <summary>A store that never has anything and keeps nothing.</summary>
public sealed class NoCacheStore : ICacheStore
{
    public static NoCacheStore Instance { get; } = new();

    private NoCacheStore() { }

    public ValueTask<IResult?> TryLoadAsync(CacheKey key, Vertex vertex, IReadOnlyList<SolvedInput> inputs, CancellationToken ct) =>
        ValueTask.FromResult<IResult?>(null);

    public ValueTask SaveAsync(CacheKey key, Vertex vertex, IReadOnlyList<SolvedInput> inputs, IResult result, CancellationToken ct) =>
        ValueTask.CompletedTask;
}
