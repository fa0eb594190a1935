using Img.Oci;

namespace Img.Build.Graph;

/// <summary>
/// A build that failed in one vertex: which vertex, and why (<see cref="Exception.InnerException"/>). Dependants of
/// the vertex fail with this same exception, so the error names the vertex where it began, as BuildKit's does.
/// </summary>
public sealed class SolveException(string vertexName, Digest vertexDigest, Exception cause)
    : Exception(Prefix + cause.Message, cause)
{
    /// <summary>BuildKit's words before every build error; written here and nowhere else.</summary>
    public const string Prefix = "failed to solve: ";

    public string VertexName { get; } = vertexName;

    public Digest VertexDigest { get; } = vertexDigest;

    /// <summary>The cause's own words, without <see cref="Prefix"/> (what progress shows under the vertex).</summary>
    public string Cause => InnerException!.Message;
}
