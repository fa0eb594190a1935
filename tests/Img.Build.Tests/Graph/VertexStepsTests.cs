using System.Collections.Concurrent;
using Img.Build.Graph;
using Img.Oci;

namespace Img.Build.Tests.Graph;

/// <summary>How the solver's vertices appear as build steps.</summary>
public class VertexStepsTests
{
    private sealed class Recorder : IBuildProgress
    {
        public ConcurrentQueue<StepEvent> Events { get; } = new();

        public void Report(StepEvent e) => Events.Enqueue(e);

        public IReadOnlyList<string> Lines => [.. Events.Select(e => e.State == StepState.Started ? e.Name : $"#{e.Step} {e.State} {e.Text}".TrimEnd())];
    }

    private static Vertex Copy(string name) => new(name, new FileOp([new MkdirAction("/a", 0b111_101_101)]) { BaseInput = null });

    [Fact]
    public void StepsStartOnceAndEndCachedDoneOrWithTheReason()
    {
        var recorder = new Recorder();
        var steps = new VertexSteps(new ProgressSink(recorder));
        var run = new Vertex("[stage-0 2/2] RUN false", new ExecOp(["false"]));
        var copy = Copy("[stage-0 3/3] COPY a /a");

        steps.Report(new VertexProgress(copy, VertexStatus.Started));
        steps.Report(new VertexProgress(copy, VertexStatus.Cached));
        steps.Report(new VertexProgress(run, VertexStatus.Started));
        steps.For(run)!.Log("output");
        steps.Report(new VertexProgress(run, VertexStatus.Failed, new BuildFailedException("process \"false\" did not complete successfully: exit code: 1")));

        Assert.Equal(["[stage-0 3/3] COPY a /a", "#1 Cached", "[stage-0 2/2] RUN false", "#2 Log output",
            "#2 Error process \"false\" did not complete successfully: exit code: 1"], recorder.Lines);
    }

    [Fact]
    public void SourcesThatReportTheirOwnLoadingAndTheEmptyFilesystemHaveNoStep()
    {
        var recorder = new Recorder();
        var steps = new VertexSteps(new ProgressSink(recorder));
        Vertex[] hidden =
        [
            new("[internal] load build context", new LocalSource("context")),
            new("[internal] load metadata for docker.io/library/base:latest", new ImageSource("docker.io/library/base:latest", Platform.Host)),
            new("[stage-0] ADD https://example.com/a", new HttpSource("https://example.com/a", "a")),
            new("scratch", new FileOp([]) { BaseInput = null }),
        ];

        foreach (var vertex in hidden)
        {
            steps.Report(new VertexProgress(vertex, VertexStatus.Started));
            steps.Report(new VertexProgress(vertex, VertexStatus.Done));
        }
        var from = new Vertex("[stage-0 1/2] FROM docker.io/library/base:latest", hidden[1].Definition);
        steps.Report(new VertexProgress(from, VertexStatus.Started));
        steps.Report(new VertexProgress(from, VertexStatus.Done));

        Assert.Equal(["[stage-0 1/2] FROM docker.io/library/base:latest", "#1 Done"], recorder.Lines);
    }

    [Fact]
    public void AVertexThePlatformsShareRunsUnderOneNameAndIsCachedUnderTheOthers()
    {
        var recorder = new Recorder();
        var steps = new VertexSteps(new ProgressSink(recorder));
        var amd64 = Copy("[linux/amd64 stage-0 2/3] COPY links/ /bin/");
        var arm64 = Copy("[linux/arm64 stage-0 2/3] COPY links/ /bin/");
        var own = new Vertex("[linux/arm64 stage-0 3/3] RUN true", new ExecOp(["true"]));
        steps.NamePlatforms([[amd64], [arm64, own]]);

        steps.Report(new VertexProgress(amd64, VertexStatus.Started));
        steps.Report(new VertexProgress(amd64, VertexStatus.Done));
        steps.Report(new VertexProgress(own, VertexStatus.Started));
        steps.Report(new VertexProgress(own, VertexStatus.Done));

        Assert.Equal(amd64.Digest, arm64.Digest);
        Assert.Equal(["[linux/amd64 stage-0 2/3] COPY links/ /bin/", "#1 Done", "[linux/arm64 stage-0 2/3] COPY links/ /bin/", "#2 Cached",
            "[linux/arm64 stage-0 3/3] RUN true", "#3 Done"], recorder.Lines);
    }
}
