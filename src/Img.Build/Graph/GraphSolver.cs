using Img.Oci;

namespace Img.Build.Graph;

/// <summary>What a <see cref="GraphSolver"/> runs with.</summary>
public sealed record GraphSolverOptions
{
    public required IOpResolver Ops { get; init; }

    public ICacheStore Cache { get; init; } = NoCacheStore.Instance;

    public ISolveProgress Progress { get; init; } = NoSolveProgress.Instance;

    /// <summary>How many ops may execute at once (cache lookups and key computations are not counted).</summary>
    public int MaxParallelism { get; init; } = Environment.ProcessorCount;
}

/// <summary>
/// Solves vertices to results, modelled on BuildKit's solver: a vertex is identified by its digest, so every request
/// that reaches the same digest — within one solve or from solves running at the same time, such as the platforms of
/// one build — shares one run. A vertex runs once its inputs are solved, so independent vertices run in parallel (at
/// most <see cref="GraphSolverOptions.MaxParallelism"/> ops at once); it is first looked up in the cache by the key chained
/// from its cache map and its inputs' keys. A vertex that fails fails its dependants with the same
/// <see cref="SolveException"/>; a failed dependant gives up its other inputs and a failed solve its targets, and work
/// nobody wants any more is canceled — BuildKit's edge cancels its open input requests once it has an error, and its
/// frontend cancels the other platforms — while work another live solve still needs goes on.
/// Results stay valid until the solver is disposed, which releases them.
/// </summary>
public sealed class GraphSolver(GraphSolverOptions options) : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly Dictionary<Digest, ActiveVertex> _active = [];
    private readonly List<ActiveVertex> _started = [];
    private readonly SemaphoreSlim _slots = new(Math.Max(1, options.MaxParallelism));
    private bool _disposed;

    public async Task<IResult> SolveAsync(Vertex target, CancellationToken ct) =>
        (await SolveAsync([target], ct).ConfigureAwait(false))[0];

    /// <summary>
    /// Solves every target, in order. Throws the first <see cref="SolveException"/> as soon as one target fails, and
    /// <see cref="OperationCanceledException"/> as soon as <paramref name="ct"/> is canceled; either way the work
    /// only this solve wanted is canceled.
    /// </summary>
    public async Task<IReadOnlyList<IResult>> SolveAsync(IReadOnlyList<Vertex> targets, CancellationToken ct)
    {
        var created = new List<ActiveVertex>();
        ActiveVertex[] held;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            held = [.. targets.Select(t => Acquire(t, created))];
            // started under the lock, so DisposeAsync waits for every run it may cancel
            foreach (var vertex in created)
                vertex.Run = Task.Run(() => RunAsync(vertex), CancellationToken.None);
        }
        try
        {
            var solved = await AllOrFirstFailure(held, ct).ConfigureAwait(false);
            return [.. solved.Select(s => s.Result)];
        }
        finally
        {
            Release(held);
        }
    }

    /// <summary>Cancels what still runs, waits for it to end, and releases every result.</summary>
    public async ValueTask DisposeAsync()
    {
        ActiveVertex[] started;
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            started = [.. _started];
        }
        foreach (var vertex in started)
            vertex.Cancel();
        await Task.WhenAll(started.Select(v => v.Run)).ConfigureAwait(false);
        foreach (var vertex in started)
        {
            if (vertex.Result is { } result)
                await result.ReleaseAsync().ConfigureAwait(false);
            vertex.Dispose();
        }
        _slots.Dispose();
    }

    /// <summary>The active vertex for <paramref name="vertex"/>'s digest, with one more holder; inputs first.</summary>
    private ActiveVertex Acquire(Vertex vertex, List<ActiveVertex> created)
    {
        if (_active.TryGetValue(vertex.Digest, out var active))
        {
            active.Interest++;
            return active;
        }
        var inputs = vertex.Inputs.Select(i => Acquire(i, created)).ToArray();
        active = new ActiveVertex(vertex, inputs) { Interest = 1 };
        _active[vertex.Digest] = active;
        _started.Add(active);
        created.Add(active);
        return active;
    }

    private void Release(IEnumerable<ActiveVertex> held)
    {
        var cancel = new List<ActiveVertex>();
        lock (_gate)
        {
            foreach (var vertex in held)
                ReleaseLocked(vertex, cancel);
        }
        foreach (var vertex in cancel)
            vertex.Cancel();
    }

    /// <summary>One holder fewer; a vertex nobody wants before it finished is forgotten and canceled, with its inputs.</summary>
    private void ReleaseLocked(ActiveVertex vertex, List<ActiveVertex> cancel)
    {
        vertex.Interest--;
        if (vertex.Interest > 0 || vertex.Finished) return;
        // a later request for the same digest starts afresh rather than joining a canceled run
        if (_active.TryGetValue(vertex.Vertex.Digest, out var current) && current == vertex)
            _active.Remove(vertex.Vertex.Digest);
        cancel.Add(vertex);
        ReleaseInputsLocked(vertex, cancel);
    }

    private void ReleaseInputsLocked(ActiveVertex vertex, List<ActiveVertex> cancel)
    {
        if (vertex.InputsReleased) return;
        vertex.InputsReleased = true;
        foreach (var input in vertex.Inputs)
            ReleaseLocked(input, cancel);
    }

    private void Finish(ActiveVertex vertex)
    {
        var cancel = new List<ActiveVertex>();
        lock (_gate)
        {
            vertex.Finished = true;
            ReleaseInputsLocked(vertex, cancel);
        }
        foreach (var input in cancel)
            input.Cancel();
    }

    private async Task RunAsync(ActiveVertex vertex)
    {
        var token = vertex.Token;
        try
        {
            IReadOnlyList<SolvedInput> inputs;
            try
            {
                inputs = await AllOrFirstFailure(vertex.Inputs, token).ConfigureAwait(false);
            }
            catch (SolveException failed)
            {
                // an input's failure is this vertex's failure, named after the input where it began
                vertex.Outcome.TrySetException(failed);
                return;
            }
            catch (OperationCanceledException)
            {
                vertex.Outcome.TrySetCanceled(token);
                return;
            }
            await SolveVertexAsync(vertex, inputs, token).ConfigureAwait(false);
        }
        finally
        {
            // even when a progress sink threw: the inputs are given up, or what only this vertex wanted runs on
            Finish(vertex);
        }
    }

    private async Task SolveVertexAsync(ActiveVertex vertex, IReadOnlyList<SolvedInput> inputs, CancellationToken token)
    {
        try
        {
            token.ThrowIfCancellationRequested();
            var op = options.Ops.Resolve(vertex.Vertex);
            var map = await op.CacheMapAsync(token).ConfigureAwait(false);
            var key = await CacheKeys.ComputeAsync(map, inputs, token).ConfigureAwait(false);
            var (result, cached) = await LoadOrExecAsync(vertex, op, key, inputs, token).ConfigureAwait(false);
            vertex.Result = result;
            vertex.Outcome.TrySetResult(new SolvedInput(result, key));
            Report(vertex, cached ? VertexStatus.Cached : VertexStatus.Done);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            vertex.Outcome.TrySetCanceled(token);
            if (vertex.Started) Report(vertex, VertexStatus.Canceled);
        }
        catch (Exception e)
        {
            // an op that solved a graph of its own may already say where it failed
            var failure = e as SolveException ?? new SolveException(vertex.Vertex.Name, vertex.Vertex.Digest, e);
            if (vertex.Outcome.TrySetException(failure))
                Report(vertex, VertexStatus.Failed, failure.InnerException);
        }
    }

    private void Report(ActiveVertex vertex, VertexStatus status, Exception? error = null)
    {
        if (status == VertexStatus.Started) vertex.Started = true;
        options.Progress.Report(new VertexProgress(vertex.Vertex, status, error));
    }

    /// <summary>The cached result, else the op's; the vertex counts as started once it has either, not while it queues.</summary>
    private async Task<(IResult Result, bool Cached)> LoadOrExecAsync(
        ActiveVertex active, IOp op, CacheKey key, IReadOnlyList<SolvedInput> inputs, CancellationToken token)
    {
        var vertex = active.Vertex;
        using var held = await options.Cache.LockAsync(key, vertex, token).ConfigureAwait(false);
        if (!vertex.IgnoreCache && await options.Cache.TryLoadAsync(key, vertex, inputs, token).ConfigureAwait(false) is { } hit)
        {
            Report(active, VertexStatus.Started);
            return (hit, true);
        }
        IResult result;
        await _slots.WaitAsync(token).ConfigureAwait(false);
        try
        {
            Report(active, VertexStatus.Started);
            result = await op.ExecAsync([.. inputs.Select(i => i.Result)], token).ConfigureAwait(false);
        }
        finally
        {
            _slots.Release();
        }
        try
        {
            await options.Cache.SaveAsync(key, vertex, inputs, result, token).ConfigureAwait(false);
        }
        catch
        {
            await result.ReleaseAsync().ConfigureAwait(false);
            throw;
        }
        return (result, false);
    }

    /// <summary>
    /// Every vertex's outcome in order, or the first failure as soon as it happens (not after the rest), or
    /// cancellation as soon as <paramref name="ct"/> fires.
    /// </summary>
    private static async Task<IReadOnlyList<SolvedInput>> AllOrFirstFailure(IReadOnlyList<ActiveVertex> vertices, CancellationToken ct)
    {
        var tasks = vertices.Select(v => v.Outcome.Task).ToArray();
        var pending = new HashSet<Task<SolvedInput>>(tasks);
        while (pending.Count > 0)
        {
            var done = await Task.WhenAny(pending).WaitAsync(ct).ConfigureAwait(false);
            if (!done.IsCompletedSuccessfully)
                await done.ConfigureAwait(false); // throws its SolveException, or cancellation
            pending.Remove(done);
        }
        return [.. tasks.Select(t => t.Result)];
    }
}
