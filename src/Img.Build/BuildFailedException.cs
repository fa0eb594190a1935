namespace Img.Build;

/// <summary>
/// A build failed for a reason the user can act on. <see cref="Reason"/> is what went wrong, <see cref="Step"/> the
/// step it went wrong in (null before and after the steps: reading the Dockerfile, exporting), the inner exception the
/// cause. The message is BuildKit's whole line, <c>failed to solve: REASON</c>, written here and nowhere else.
/// </summary>
public class BuildFailedException : Exception
{
    /// <summary>A failure for <paramref name="reason"/>, caused by <paramref name="cause"/> when one is known.</summary>
    public BuildFailedException(string reason, Exception? cause = null) : base(MessageOf(reason), cause) => Reason = reason;

    /// <summary>What went wrong, without BuildKit's prefix (what a step's own error line shows).</summary>
    public string Reason { get; }

    /// <summary>The progress name of the step that failed (<c>[stage-0 2/3] RUN …</c>), or null.</summary>
    public string? Step { get; private init; }

    /// <summary>BuildKit's message for a build that failed for <paramref name="reason"/>.</summary>
    public static string MessageOf(string reason) => "failed to solve: " + reason;

    /// <summary>What <paramref name="e"/> says went wrong, without the prefix a build failure carries.</summary>
    public static string ReasonOf(Exception e) => e is BuildFailedException failed ? failed.Reason : e.Message;

    /// <summary>The same failure, known to have happened in <paramref name="step"/> (a failure already placed keeps its step).</summary>
    public BuildFailedException InStep(string step) => Step is not null ? this : new(Reason, InnerException) { Step = step };
}
