namespace Img.Build.Graph;

/// <summary>
/// One vertex while a <see cref="GraphSolver"/> holds it: its outcome, the inputs it waits for, and how many holders
/// (requests and dependants still running) want it. The solver's lock guards <see cref="Interest"/>,
/// <see cref="Finished"/> and <see cref="InputsReleased"/>.
/// </summary>
internal sealed class ActiveVertex(Vertex vertex, IReadOnlyList<ActiveVertex> inputs)
{
    private readonly CancellationTokenSource _cancel = new();

    public Vertex Vertex { get; } = vertex;

    public IReadOnlyList<ActiveVertex> Inputs { get; } = inputs;

    /// <summary>Completes when the vertex is solved; faults with a <see cref="SolveException"/> or is canceled.</summary>
    public TaskCompletionSource<SolvedInput> Outcome { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The vertex's run, which never throws (its outcome is in <see cref="Outcome"/>).</summary>
    public Task Run { get; set; } = Task.CompletedTask;

    /// <summary>The result this vertex made or loaded, released when the solver is disposed.</summary>
    public IResult? Result { get; set; }

    public CancellationToken Token => _cancel.Token;

    public int Interest { get; set; }

    public bool Finished { get; set; }

    public bool InputsReleased { get; set; }

    /// <summary>Progress was told the vertex started (set by its own run only).</summary>
    public bool Started { get; set; }

    /// <summary>Stops the run; never called under the solver's lock (cancellation runs callbacks inline).</summary>
    public void Cancel()
    {
        try
        {
            _cancel.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // already disposed by the solver: the run had ended
        }
    }

    public void Dispose() => _cancel.Dispose();
}
