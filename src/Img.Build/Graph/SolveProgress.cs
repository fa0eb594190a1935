namespace Img.Build.Graph;

/// <summary>Where a vertex is: started (its inputs are ready), then cached, done, failed, or canceled.</summary>
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
