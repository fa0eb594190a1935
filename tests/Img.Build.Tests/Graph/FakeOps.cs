using System.Collections.Concurrent;
using System.Text;
using Img.Build.Graph;
using Img.Oci;

namespace Img.Build.Tests.Graph;

/// <summary>A result the fake ops pass on: a value built from the inputs', and the files it "holds".</summary>
internal sealed class FakeResult(string value, IReadOnlyDictionary<string, string>? files = null) : IResult
{
    public string Value { get; } = value;

    public IReadOnlyDictionary<string, string> Files { get; } = files ?? new Dictionary<string, string>();

    public int Releases;

    public ValueTask ReleaseAsync()
    {
        Interlocked.Increment(ref Releases);
        return ValueTask.CompletedTask;
    }

    /// <summary>A content digest over the selected files only, as a context checksum would be.</summary>
    public static ValueTask<Digest> ContentOf(SolvedInput input, IReadOnlyList<string> paths, CancellationToken ct)
    {
        var files = ((FakeResult)input.Result).Files;
        var text = string.Join("\n", paths.Select(p => p + "=" + (files.TryGetValue(p, out var c) ? c : "<none>")));
        return ValueTask.FromResult(Digest.Compute(Encoding.UTF8.GetBytes(text)));
    }
}

/// <summary>
/// An op that is its own definition (only <see cref="Seed"/> is in the digest) and counts its calls; what it does is
/// <see cref="Body"/>, by default a value made of its seed and its inputs' values.
/// </summary>
internal sealed class FakeOp(string seed) : IOpDefinition, IOp
{
    public string Seed { get; } = seed;

    public int InputCount { get; set; }

    public Func<IReadOnlyList<IResult>, CancellationToken, Task<IResult>>? Body { get; init; }

    public IReadOnlyList<InputSelector>? Selectors { get; init; }

    public int ExecCalls;

    public CancellationToken LastToken { get; private set; }

    public string Kind => "test.fake";

    public void WriteTo(DefinitionWriter writer) => writer.Field("seed", Seed);

    public ValueTask<CacheMap> CacheMapAsync(CancellationToken ct) => ValueTask.FromResult(Selectors is null
        ? CacheMap.Whole(OpDefinitions.DigestOf(this), InputCount)
        : new CacheMap(OpDefinitions.DigestOf(this), Selectors));

    public async Task<IResult> ExecAsync(IReadOnlyList<IResult> inputs, CancellationToken ct)
    {
        Interlocked.Increment(ref ExecCalls);
        LastToken = ct;
        if (Body is not null) return await Body(inputs, ct);
        return new FakeResult(Seed + "(" + string.Join(",", inputs.Select(i => ((FakeResult)i).Value)) + ")");
    }

    /// <summary>A vertex named after the seed.</summary>
    public Vertex Vertex(params Vertex[] inputs)
    {
        InputCount = inputs.Length;
        return new Vertex(Seed, this, inputs);
    }
}

/// <summary>The fake ops are their own definitions.</summary>
internal sealed class FakeResolver : IOpResolver
{
    public static FakeResolver Instance { get; } = new();

    public IOp Resolve(Vertex vertex) => (FakeOp)vertex.Definition;
}

/// <summary>A cache store in memory that counts hits.</summary>
internal sealed class MemoryCacheStore : ICacheStore
{
    private readonly ConcurrentDictionary<CacheKey, IResult> _results = new();

    public int Hits;

    public int Count => _results.Count;

    public ValueTask<IResult?> TryLoadAsync(CacheKey key, Vertex vertex, IReadOnlyList<SolvedInput> inputs, CancellationToken ct)
    {
        if (!_results.TryGetValue(key, out var result)) return ValueTask.FromResult<IResult?>(null);
        Interlocked.Increment(ref Hits);
        return ValueTask.FromResult<IResult?>(result);
    }

    public ValueTask SaveAsync(CacheKey key, Vertex vertex, IReadOnlyList<SolvedInput> inputs, IResult result, CancellationToken ct)
    {
        _results[key] = result;
        return ValueTask.CompletedTask;
    }
}

/// <summary>Every progress report, in the order they came.</summary>
internal sealed class RecordingProgress : ISolveProgress
{
    private readonly ConcurrentQueue<VertexProgress> _reports = new();

    public void Report(VertexProgress progress) => _reports.Enqueue(progress);

    public IReadOnlyList<VertexStatus> Of(string name) =>
        [.. _reports.Where(r => r.Vertex.Name == name).Select(r => r.Status)];
}
