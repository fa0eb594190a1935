using System.Collections.Concurrent;
using Img.Build.Graph;
using Img.Oci;

namespace Img.Build.Tests.Graph;

/// <summary>
/// Runs any op definition as a fake: its result names the vertex's kind and its inputs' results, and every run is
/// counted by vertex digest — for graphs the converter made, whose definitions are the real op records.
/// </summary>
internal sealed class CountingOps : IOpResolver
{
    public ConcurrentDictionary<Digest, int> Runs { get; } = new();

    public IOp Resolve(Vertex vertex) => new Op(this, vertex);

    private sealed class Op(CountingOps owner, Vertex vertex) : IOp
    {
        public ValueTask<CacheMap> CacheMapAsync(CancellationToken ct) =>
            ValueTask.FromResult(CacheMap.Whole(OpDefinitions.DigestOf(vertex.Definition), vertex.Inputs.Count));

        public Task<IResult> ExecAsync(IReadOnlyList<IResult> inputs, CancellationToken ct)
        {
            owner.Runs.AddOrUpdate(vertex.Digest, 1, (_, n) => n + 1);
            var value = vertex.Definition.Kind + "(" + string.Join(",", inputs.Select(i => ((FakeResult)i).Value)) + ")";
            return Task.FromResult<IResult>(new FakeResult(value));
        }
    }
}
