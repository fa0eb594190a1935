namespace Img.Build;

/// <summary>What happened to a step (a vertex in BuildKit's terms).</summary>
public enum StepState
{
    /// <summary>The step started.</summary>
    Started,
    /// <summary>The step printed a line.</summary>
    Log,
    /// <summary>The step finished.</summary>
    Done,
    /// <summary>The step's result came from the cache.</summary>
    Cached,
    /// <summary>The step failed.</summary>
    Error,
}

/// <summary>One progress event; steps are numbered from 1 in the order they start.</summary>
/// <param name="Step">The step number.</param>
/// <param name="Name">The step's name, e.g. <c>[base 2/5] RUN make</c>.</param>
/// <param name="State">What happened.</param>
/// <param name="Text">The log line or the error.</param>
/// <param name="Elapsed">Time since the step started (Done/Error).</param>
public sealed record StepEvent(int Step, string Name, StepState State, string? Text = null, TimeSpan Elapsed = default);

/// <summary>Receives progress events; called from several threads at once.</summary>
public interface IBuildProgress
{
    /// <summary>Handles one event.</summary>
    void Report(StepEvent e);
}

/// <summary>Hands out step numbers and reports events for one step.</summary>
public sealed class ProgressSink(IBuildProgress progress)
{
    private int _next;

    /// <summary>Starts a step that runs now.</summary>
    public StepReporter Start(string name)
    {
        var r = new StepReporter(progress, Interlocked.Increment(ref _next), name);
        progress.Report(new StepEvent(r.Step, name, StepState.Started));
        return r;
    }
}

/// <summary>Reports one step's log lines and outcome.</summary>
public sealed class StepReporter
{
    private readonly IBuildProgress _progress;
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    private bool _finished;

    internal StepReporter(IBuildProgress progress, int step, string name)
    {
        _progress = progress;
        Step = step;
        Name = name;
    }

    /// <summary>The step number.</summary>
    public int Step { get; }

    /// <summary>The step name.</summary>
    public string Name { get; }

    /// <summary>A line of output.</summary>
    public void Log(string line) => _progress.Report(new StepEvent(Step, Name, StepState.Log, line, _clock.Elapsed));

    /// <summary>The step finished.</summary>
    public void Done() => Finish(StepState.Done, null);

    /// <summary>The step's result came from the cache.</summary>
    public void Cached() => Finish(StepState.Cached, null);

    /// <summary>The step failed.</summary>
    public void Error(string message) => Finish(StepState.Error, message);

    private void Finish(StepState state, string? text)
    {
        if (_finished) return;
        _finished = true;
        _progress.Report(new StepEvent(Step, Name, state, text, _clock.Elapsed));
    }
}
