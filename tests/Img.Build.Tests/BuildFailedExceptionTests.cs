using Img.Build;

namespace Img.Build.Tests;

public class BuildFailedExceptionTests
{
    [Fact]
    public void TheMessageIsBuildKitsLineAndTheReasonIsWithoutItsPrefix()
    {
        var cause = new IOException("disk on fire");
        var failed = new BuildFailedException("secret s: not found", cause);
        Assert.Equal("failed to solve: secret s: not found", failed.Message);
        Assert.Equal("secret s: not found", failed.Reason);
        Assert.Same(cause, failed.InnerException);
        Assert.Null(failed.Step);
        Assert.Equal("secret s: not found", BuildFailedException.ReasonOf(failed));
        Assert.Equal("disk on fire", BuildFailedException.ReasonOf(cause));
    }

    [Fact]
    public void AFailureIsPlacedInItsStepOnce()
    {
        var cause = new InvalidOperationException("no runtime");
        var placed = new BuildFailedException("no runtime", cause).InStep("[stage-0 2/3] RUN true");
        Assert.Equal("[stage-0 2/3] RUN true", placed.Step);
        Assert.Equal("failed to solve: no runtime", placed.Message);
        Assert.Same(cause, placed.InnerException);
        // A failure in a stage another step reads keeps the step it happened in.
        Assert.Same(placed, placed.InStep("[stage-1 2/2] COPY --from=0 / /"));
    }
}
