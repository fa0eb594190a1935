using Img.Dockerfile;
using Img.Oci;

namespace Img.Build.Graph.Convert;

/// <summary>
/// A stage as converted: the vertex of its filesystem (null while it is still empty: <c>FROM scratch</c> with no
/// file step), its config and the ARGs a stage built <c>FROM</c> it inherits.
/// </summary>
public sealed record ConvertedStage(PlannedStage Stage, Vertex? Root, StageConfig Config, IReadOnlyList<KeyValuePair<string, string?>> Args);

/// <summary>The graph of one platform: the plan it was made from, its target and every stage the target reached.</summary>
public sealed record PlatformGraph(Platform Platform, BuildPlan Plan, ConvertedStage Target, IReadOnlyList<ConvertedStage> Stages)
{
    /// <summary>Every vertex the target's filesystem depends on, inputs before the vertices that take them, each once.</summary>
    public IReadOnlyList<Vertex> Vertices => Target.Root is null ? [] : GraphWalk.Postorder([Target.Root]);
}

/// <summary>
/// A build as a graph: one <see cref="PlatformGraph"/> per platform. Vertices the platforms share have the same digest
/// (a <c>FROM --platform=$BUILDPLATFORM</c> stage, a <c>FROM scratch</c> stage that only copies), so one solver runs
/// them once.
/// </summary>
public sealed record BuildGraph(IReadOnlyList<PlatformGraph> Platforms)
{
    /// <summary>The targets' vertices, one per platform (none for a platform whose target has an empty filesystem).</summary>
    public IReadOnlyList<Vertex> Targets => [.. Platforms.Where(p => p.Target.Root is not null).Select(p => p.Target.Root!)];
}

/// <summary>Walks vertices by digest.</summary>
public static class GraphWalk
{
    /// <summary>Every vertex below and including <paramref name="roots"/>, inputs first, each digest once.</summary>
    public static IReadOnlyList<Vertex> Postorder(IEnumerable<Vertex> roots)
    {
        var seen = new HashSet<Digest>();
        var order = new List<Vertex>();
        var stack = new Stack<(Vertex Vertex, bool Expanded)>(roots.Reverse().Select(r => (r, false)));
        while (stack.Count > 0)
        {
            var (vertex, expanded) = stack.Pop();
            if (expanded)
            {
                order.Add(vertex);
                continue;
            }
            if (!seen.Add(vertex.Digest)) continue;
            stack.Push((vertex, true));
            for (var i = vertex.Inputs.Count - 1; i >= 0; i--)
                stack.Push((vertex.Inputs[i], false));
        }
        return order;
    }
}
