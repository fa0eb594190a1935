using Img.Oci;

namespace Img.Build.Graph;

/// <summary>
/// A build that failed in one vertex: which vertex, and why (<see cref="Exception.InnerException"/>). Dependants of
/// the vertex fail with this same exception, so the error names the vertex where it began, as BuildKit's does.
/// </summary>
public sealed class SolveException(string vertexName, Digest vertexDigest, Exception cause)
    : Exception(BuildFailedException.MessageOf(BuildFailedException.ReasonOf(cause)), cause)
{
    public string VertexName { get; } = vertexName;

    public Digest VertexDigest { get; } = vertexDigest;

    /// <summary>The cause's own words, without BuildKit's <c>failed to solve:</c> (what progress shows under the vertex).</summary>
    public string Cause => BuildFailedException.ReasonOf(InnerException!);
}
