using System.Collections.Concurrent;
using Img.Build.Graph;
using Img.Oci;

namespace Img.Build.Tests.Graph;

/// <summary>
/// Runs any op definition as a fake: its result names the vertex's kind and its inputs' results, and every run is
/// counted by vertex digest — for graphs the converter made, whose definitions are the real op records. Cache maps
/// are the ones the definitions imply; a local source holds <see cref="ContextFiles"/>, and its key covers them, as a
/// real context's content-based key does.
/// </summary>
internal sealed class CountingOps(IReadOnlyDictionary<string, string>? contextFiles = null) : IOpResolver
{
    public IReadOnlyDictionary<string, string> ContextFiles { get; } = contextFiles ?? new Dictionary<string, string>();

    public ConcurrentDictionary<Digest, int> Runs { get; } = new();

    public int RunsOf(Vertex vertex) => Runs.GetValueOrDefault(vertex.Digest);

    public IOp Resolve(Vertex vertex) => new Op(this, vertex);

    private sealed class Op(CountingOps owner, Vertex vertex) : IOp
    {
        public ValueTask<CacheMap> CacheMapAsync(CancellationToken ct)
        {
            var map = DefinitionCacheMaps.Of(vertex, FakeResult.ContentOf);
            if (vertex.Definition is not LocalSource) return ValueTask.FromResult(map);
            var files = string.Join("\n", owner.ContextFiles.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => f.Key + "=" + f.Value));
            return ValueTask.FromResult(map with { Digest = Digest.Compute(System.Text.Encoding.UTF8.GetBytes(map.Digest + files)) });
        }

        public Task<IResult> ExecAsync(IReadOnlyList<IResult> inputs, CancellationToken ct)
        {
            owner.Runs.AddOrUpdate(vertex.Digest, 1, (_, n) => n + 1);
            var value = vertex.Definition.Kind + "(" + string.Join(",", inputs.Select(i => ((FakeResult)i).Value)) + ")";
            return Task.FromResult<IResult>(new FakeResult(value, vertex.Definition is LocalSource ? owner.ContextFiles : null));
        }
    }
}
