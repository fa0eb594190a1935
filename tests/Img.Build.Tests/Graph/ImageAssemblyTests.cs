using Img.Build.Graph;
using Img.Build.Graph.Convert;
using Img.Dockerfile;
using Img.Oci;
using Img.Runtime.Snapshots;

namespace Img.Build.Tests.Graph;

/// <summary>The image config of a solved stage: history entries take their times and layers from the vertices they name.</summary>
public class ImageAssemblyTests
{
    private static readonly Platform Amd64 = Platform.Parse("linux/amd64");
    private static readonly DateTimeOffset BaseTime = DateTimeOffset.FromUnixTimeSeconds(1_600_000_000);
    private static readonly DateTimeOffset RunTime = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);

    private sealed class OneImage(ImageConfig config) : IImageMetadata
    {
        public ImageMetadata? Find(string reference, Platform platform) => new(reference + "@sha256:" + new string('1', 64), config);
    }

    private static ImageConfig Base() => new()
    {
        OS = "linux", Architecture = "amd64", Created = BaseTime,
        Config = new ContainerConfig { Env = ["PATH=/bin"] },
        History = [new History { Created = BaseTime, CreatedBy = "base layer" }],
    };

    private static PlatformGraph Convert(string dockerfile) => DockerfileConverter.Convert(
        DockerfileDocument.Parse(dockerfile),
        new ConvertOptions { Platforms = [Amd64], BuildPlatform = Amd64, Images = new OneImage(Base()) }).Platforms.Single();

    private static LayerRef Layer(char c) =>
        new(new Descriptor(MediaTypes.DockerLayerGzip, Digest.Parse("sha256:" + new string(c, 64)), 10), Digest.Parse("sha256:" + new string(c, 64)));

    [Fact]
    public void HistoryTakesEachStepsLayerAndTimeAndConfigEntriesTheTimeOfTheirFilesystem()
    {
        var graph = Convert("FROM busybox\nENV A=1\nRUN echo one > /one\nLABEL x=y\nRUN true\nCMD [\"sh\"]\n");
        var runs = graph.Vertices.Where(v => v.Definition is ExecOp).ToList();
        var baseResult = SnapshotResult.Of(new BaseImage("k", Base(), "layer/base", [Layer('b')]));
        var first = baseResult.Then("build/1", Layer('c'), RunTime);
        var second = first.Then("build/2", null, RunTime.AddSeconds(5));
        var results = new Dictionary<Digest, SnapshotResult> { [runs[0].Digest] = first, [runs[1].Digest] = second };
        SnapshotResult Solved(Vertex v) => v.Definition is ImageSource ? baseResult : results[v.Digest];

        var config = ImageAssembly.ConfigOf(graph.Target, second, Solved, null);

        var history = config.History!;
        Assert.Equal(["base layer", "ENV A=1", "RUN /bin/sh -c echo one > /one # buildkit", "LABEL x=y", "RUN /bin/sh -c true # buildkit", "CMD [\"sh\"]"],
            history.Select(h => h.CreatedBy));
        Assert.Equal([BaseTime, BaseTime, RunTime, RunTime, RunTime.AddSeconds(5), RunTime.AddSeconds(5)], history.Select(h => h.Created!.Value));
        Assert.Equal([false, true, false, true, true, true], history.Select(h => h.EmptyLayer));
        Assert.All(history.Skip(1), h => Assert.Equal(ImageAssembly.HistoryComment, h.Comment));
        Assert.Equal(["sh"], config.Config.Cmd);
        Assert.Equal("y", config.Config.Labels!["x"]);
    }

    [Fact]
    public void SourceDateEpochIsTheTimeOfEveryNewEntryAndTheBaseHistoryIsACopy()
    {
        var graph = Convert("FROM busybox\nRUN true\n");
        var run = graph.Vertices.Single(v => v.Definition is ExecOp);
        var baseImage = Base();
        var baseResult = SnapshotResult.Of(new BaseImage("k", baseImage, null, []));
        var solved = baseResult.Then("build/1", Layer('c'), RunTime);
        var epoch = DateTimeOffset.FromUnixTimeSeconds(1_000);

        var config = ImageAssembly.ConfigOf(graph.Target, solved, v => v.Digest == run.Digest ? solved : baseResult, epoch);
        config.History![0].Created = null; // the image writer settles entries; the base image's own stay as they are

        Assert.Equal(epoch, config.History[1].Created);
        Assert.Equal(BaseTime, baseImage.History![0].Created);
    }

    [Fact]
    public void ScratchConfigEntriesHaveNoTimeUntilTheImageIsWritten()
    {
        var graph = Convert("FROM scratch\nENV A=1\n");

        var config = ImageAssembly.ConfigOf(graph.Target, SnapshotResult.Empty, _ => throw new InvalidOperationException("nothing to solve"), null);

        Assert.Null(Assert.Single(config.History!).Created);
    }
}

/// <summary>Step keys: the graph's key with the layer format folded in, and a record key per backend.</summary>
public class StepKeysTests
{
    private static readonly CacheKey Key = new(Digest.Parse("sha256:" + new string('a', 64)));

    [Fact]
    public void DefaultsKeepTheGraphsKey() =>
        Assert.Equal(new string('a', 64), new StepKeys(SnapshotterKind.Overlay, null, Compression.Gzip).StepKey(Key));

    [Fact]
    public void SourceDateEpochAndCompressionChangeTheStepKeyButNoBackendDoes()
    {
        var plain = new StepKeys(SnapshotterKind.Overlay, null, Compression.Gzip);
        var epoch = new StepKeys(SnapshotterKind.Overlay, DateTimeOffset.FromUnixTimeSeconds(1), Compression.Gzip);
        var otherEpoch = new StepKeys(SnapshotterKind.Overlay, DateTimeOffset.FromUnixTimeSeconds(2), Compression.Gzip);
        var zstd = new StepKeys(SnapshotterKind.Overlay, null, Compression.Zstd);
        var native = new StepKeys(SnapshotterKind.Native, null, Compression.Gzip);

        Assert.Equal(4, new[] { plain.StepKey(Key), epoch.StepKey(Key), otherEpoch.StepKey(Key), zstd.StepKey(Key) }.Distinct().Count());
        Assert.Equal(plain.StepKey(Key), native.StepKey(Key));
        Assert.NotEqual(plain.RecordKey(plain.StepKey(Key)), native.RecordKey(native.StepKey(Key)));
    }

    [Fact]
    public void RecordsOfAnotherBackendNameNoSnapshotHere()
    {
        var keys = new StepKeys(SnapshotterKind.Overlay, null, Compression.Gzip);

        Assert.Equal("build/x", keys.RecordedSnapshot(new Img.Content.CacheRecord { Key = "k", Kind = "regular", Description = "d", Result = "{}", Snapshot = "overlayfs/build/x" }));
        Assert.Null(keys.RecordedSnapshot(new Img.Content.CacheRecord { Key = "k", Kind = "regular", Description = "d", Result = "{}", Snapshot = "native/build/x" }));
    }

    [Fact]
    public void AVertexNotSolvedIsTheEmptyFilesystem()
    {
        var keys = new StepKeys(SnapshotterKind.Overlay, null, Compression.Gzip);
        var vertex = new Vertex("v", new FileOp([new MkdirAction("/a", 0b111_101_101)]) { BaseInput = null });

        Assert.Equal(StepKeys.Scratch, keys.Of(vertex));
        Assert.Equal(new string('a', 64), keys.Remember(vertex, Key));
        Assert.Equal(new string('a', 64), keys.Of(vertex));
    }

    [Fact]
    public void DescriptionsSayWhatTheStepDid()
    {
        Assert.Equal("mount / from exec /bin/sh -c make", StepDescriptions.Of(new Vertex("[stage-0 2/2] RUN make", new ExecOp(["/bin/sh", "-c", "make"]))));
        Assert.Equal("COPY a /b", StepDescriptions.Of(new Vertex("[stage-0 2/2] COPY a /b", new FileOp([]))));
    }
}
