namespace Img.Build.Graph;

/// <summary>
/// Where results are found by cache key before an op runs, and kept after (the metadata store's cache records in img;
/// an in-memory one in tests).
/// </summary>
public interface ICacheStore
{
    /// <summary>A result stored under <paramref name="key"/>, handed to the caller to release; null when there is none.</summary>
    ValueTask<IResult?> TryLoadAsync(CacheKey key, Vertex vertex, CancellationToken ct);

    /// <summary>Records <paramref name="result"/> under <paramref name="key"/>; the store takes its own reference.</summary>
    ValueTask SaveAsync(CacheKey key, Vertex vertex, IResult result, CancellationToken ct);
}

/// <summary>A store that never has anything and keeps nothing.</summary>
public sealed class NoCacheStore : ICacheStore
{
    public static NoCacheStore Instance { get; } = new();

    private NoCacheStore() { }

    public ValueTask<IResult?> TryLoadAsync(CacheKey key, Vertex vertex, CancellationToken ct) => ValueTask.FromResult<IResult?>(null);

    public ValueTask SaveAsync(CacheKey key, Vertex vertex, IResult result, CancellationToken ct) => ValueTask.CompletedTask;
}
