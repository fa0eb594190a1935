namespace Img.Build.Graph;

/// <summary>
/// Where a vertex is: started (a cache hit, or an execution slot taken), then cached, done, failed or canceled. A vertex
/// that fails before it started (its cache map, its key) reports only the failure; a dependant of a failed vertex
/// reports nothing.
/// </summary>
public enum VertexStatus { Started, Cached, Done, Failed, Canceled }

/// <summary>One change of a vertex's status; <see cref="Error"/> is the cause when it failed.</summary>
public sealed record VertexProgress(Vertex Vertex, VertexStatus Status, Exception? Error = null);

/// <summary>Receives the vertices' progress; called from many threads at once.</summary>
public interface ISolveProgress
{
    void Report(VertexProgress progress);
}

/// <summary>Progress nobody shows.</summary>
public sealed class NoSolveProgress : ISolveProgress
{
    public static NoSolveProgress Instance { get; } = new();

    private NoSolveProgress() { }

    public void Report(VertexProgress progress) { }
}
