namespace Img.Runtime.Oci;

/// <summary>Runs one RUN step: the OCI runtime in a namespace, or proot without one.</summary>
public interface IStepExecutor
{
    /// <summary>The executor's name for <c>-d</c> lines (<c>runc</c>, <c>crun</c>, <c>proot</c>).</summary>
    string Describe { get; }

    /// <summary>Runs <paramref name="spec"/>, streaming its output, and returns its exit code; cancelling kills the step.</summary>
    Task<int> RunAsync(RunSpec spec, Stream stdout, Stream stderr, CancellationToken ct = default);
}
