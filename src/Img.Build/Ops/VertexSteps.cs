using System.Collections.Concurrent;
using Img.Build.Graph;
using Img.Oci;

namespace Img.Build;

/// <summary>
/// Shows the solver's vertices as build steps: started, then CACHED, DONE or an error line. A vertex has one step for
/// the whole build (the platforms share the vertices they have in common). Sources whose loading reports its own step
/// (base image metadata, named contexts) or that the display never showed (the context, downloads, the empty
/// filesystem) have none; a stage's <c>FROM</c> does.
/// </summary>
/// <remarks>
/// A vertex several platforms share runs once; each other platform's name for it is shown as that platform's step,
/// CACHED once the vertex is solved, as that platform reuses the result.
/// </remarks>
internal sealed class VertexSteps(ProgressSink sink) : ISolveProgress
{
    private readonly ConcurrentDictionary<Digest, Lazy<StepReporter>> _steps = new();
    private IReadOnlyDictionary<Digest, IReadOnlyList<Vertex>> _platformNames = new Dictionary<Digest, IReadOnlyList<Vertex>>();

    /// <summary>
    /// The vertices of each platform's graph, in platform order: a digest reached by several platforms is shown under
    /// each of their names.
    /// </summary>
    public void NamePlatforms(IEnumerable<IReadOnlyList<Vertex>> platforms)
    {
        var names = new Dictionary<Digest, List<Vertex>>();
        foreach (var vertices in platforms)
        {
            foreach (var vertex in vertices.Where(Shown))
            {
                if (!names.TryGetValue(vertex.Digest, out var list)) names[vertex.Digest] = list = [];
                if (list.All(v => v.Name != vertex.Name)) list.Add(vertex);
            }
        }
        _platformNames = names.Where(kv => kv.Value.Count > 1).ToDictionary(kv => kv.Key, kv => (IReadOnlyList<Vertex>)kv.Value);
    }

    /// <summary>The step of <paramref name="vertex"/>, started on first use; null for a vertex without one.</summary>
    public StepReporter? For(Vertex vertex) =>
        Shown(vertex) ? _steps.GetOrAdd(vertex.Digest, _ => new Lazy<StepReporter>(() => sink.Start(vertex.Name))).Value : null;

    public void Report(VertexProgress progress)
    {
        switch (progress.Status)
        {
            case VertexStatus.Started: For(progress.Vertex); break;
            case VertexStatus.Cached:
                For(progress.Vertex)?.Cached();
                ReusedByOtherPlatforms(progress.Vertex);
                break;
            case VertexStatus.Done:
                For(progress.Vertex)?.Done();
                ReusedByOtherPlatforms(progress.Vertex);
                break;
            case VertexStatus.Failed: For(progress.Vertex)?.Error(ErrorText(progress.Error)); break;
            case VertexStatus.Canceled:
                if (_steps.TryGetValue(progress.Vertex.Digest, out var started)) started.Value.Error("context canceled");
                break;
        }
    }

    private void ReusedByOtherPlatforms(Vertex vertex)
    {
        if (!_platformNames.TryGetValue(vertex.Digest, out var names)) return;
        foreach (var other in names.Where(v => v.Name != vertex.Name))
            sink.Start(other.Name).Cached();
    }

    // Ctrl-C: BuildKit's words rather than "A task was canceled."
    private static string ErrorText(Exception? e) => e switch
    {
        null => "failed",
        OperationCanceledException => "context canceled",
        _ => BuildFailedException.ReasonOf(e),
    };

    private static bool Shown(Vertex vertex) => vertex.Definition switch
    {
        ImageSource => !vertex.Name.StartsWith("[internal] load metadata for ", StringComparison.Ordinal),
        LocalSource or OciLayoutSource or HttpSource => false,
        FileOp file => file.Actions.Count > 0,
        _ => true,
    };
}
