using Img.Build.Graph;
using Img.Build.Graph.Convert;
using Img.Dockerfile;
using Img.Oci;

namespace Img.Build.Tests.Graph;

public class DockerfileConverterTests
{
    private static readonly Platform Amd64 = Platform.Parse("linux/amd64");
    private static readonly Platform Arm64 = Platform.Parse("linux/arm64");
    private static readonly ConvertOptions OnAmd64 = new() { Platforms = [Amd64], BuildPlatform = Amd64 };

    private static BuildGraph Convert(string dockerfile, ConvertOptions options) =>
        DockerfileConverter.Convert(DockerfileDocument.Parse(dockerfile), options);

    private static PlatformGraph Single(string dockerfile, ConvertOptions? options = null) =>
        Convert(dockerfile, options ?? OnAmd64).Platforms.Single();

    private static ConvertedStage StageNamed(PlatformGraph graph, string name) => graph.Stages.Single(s => s.Stage.Name == name);

    private static T Op<T>(Vertex vertex) => Assert.IsType<T>(vertex.Definition);

    private static IReadOnlyList<ExecOp> Execs(PlatformGraph graph) => [.. graph.Vertices.Select(v => v.Definition).OfType<ExecOp>()];

    [Fact]
    public void TwoStagesGiveTheirVerticesAndEdges()
    {
        var graph = Single("""
            FROM busybox AS build
            WORKDIR /src
            COPY . .
            RUN make
            FROM alpine:3.19
            COPY --from=build /src/app /usr/bin/app
            """);

        var final = graph.Target.Root!;
        Assert.Equal("[stage-1 2/2] COPY --from=build /src/app /usr/bin/app", final.Name);
        Assert.Equal(OpDefinitions.DigestOf(new FileOp([new CopyAction(1, "/src/app", "/usr/bin/app") { Options = new() { AllowEmptyWildcard = true } }])),
            OpDefinitions.DigestOf(final.Definition));
        Assert.Equal(new ImageSource("docker.io/library/alpine:3.19", Amd64), Op<ImageSource>(final.Inputs[0]));
        var run = final.Inputs[1];
        Assert.Equal("[build 4/4] RUN make", run.Name);
        Assert.Equal(["/bin/sh", "-c", "make"], Op<ExecOp>(run).Args);
        Assert.Equal("/src", Op<ExecOp>(run).Cwd);
        var copy = Assert.Single(run.Inputs);
        var action = Assert.IsType<CopyAction>(Assert.Single(Op<FileOp>(copy).Actions));
        Assert.Equal((1, ".", "/src/"), (action.SourceInput, action.Source, action.Destination));
        Assert.Equal(("context", 0), (Op<LocalSource>(copy.Inputs[1]).Name, Op<LocalSource>(copy.Inputs[1]).Exclude.Count));
        var mkdir = copy.Inputs[0];
        Assert.Equal(new MkdirAction("/src", 0b111_101_101) { MakeParents = true }, Assert.Single(Op<FileOp>(mkdir).Actions));
        Assert.Equal("[build 1/4] FROM docker.io/library/busybox:latest", Assert.Single(mkdir.Inputs).Name);
        Assert.Equal(new ImageSource("docker.io/library/busybox:latest", Amd64), Op<ImageSource>(mkdir.Inputs[0]));
        Assert.Equal(7, graph.Vertices.Count);
    }

    [Fact]
    public async Task PlatformsShareTheVerticesThatDoNotDependOnThem()
    {
        var built = Convert("""
            FROM --platform=$BUILDPLATFORM busybox AS gen
            RUN generate > /out
            FROM scratch AS files
            COPY --from=gen /out /out
            FROM busybox
            COPY --from=files /out /x
            RUN use /x
            """, OnAmd64 with { Platforms = [Amd64, Arm64] });
        var (amd64, arm64) = (built.Platforms[0], built.Platforms[1]);

        Assert.Equal(StageNamed(amd64, "gen").Root!.Digest, StageNamed(arm64, "gen").Root!.Digest);
        Assert.Equal(StageNamed(amd64, "files").Root!.Digest, StageNamed(arm64, "files").Root!.Digest);
        Assert.NotEqual(amd64.Target.Root!.Digest, arm64.Target.Root!.Digest);
        Assert.Null(Execs(amd64).Last().Platform);
        Assert.Equal(Arm64, Execs(arm64).Last().Platform);
        Assert.StartsWith("[linux/arm64 stage-2 ", arm64.Target.Root!.Name, StringComparison.Ordinal);

        var ops = new CountingOps();
        await using var solver = new GraphSolver(new GraphSolverOptions { Ops = ops, MaxParallelism = 4 });
        var results = await solver.SolveAsync(built.Targets, CancellationToken.None);

        Assert.Equal(2, results.Count);
        var distinct = GraphWalk.Postorder(built.Targets);
        Assert.Equal(distinct.Count, ops.Runs.Count);
        Assert.All(ops.Runs.Values, runs => Assert.Equal(1, runs));
        // gen's image, its RUN, the context-free COPY of files: once for both platforms
        Assert.Equal(amd64.Vertices.Count + arm64.Vertices.Count - 3, distinct.Count);
    }

    [Fact]
    public void ArgAndEnvExpansionReachesTheExec()
    {
        var graph = Single("""
            ARG BASE=busybox
            FROM $BASE
            ARG VERSION=1.2
            ENV APP=/opt/app-$VERSION
            WORKDIR $APP
            RUN --mount=type=cache,target=/cache/$VERSION echo $VERSION
            RUN ["echo", "$VERSION"]
            """, OnAmd64 with { BuildArgs = new Dictionary<string, string> { ["VERSION"] = "2.0", ["BASE"] = "alpine" } });

        var (shell, exec) = (Execs(graph)[0], Execs(graph)[1]);
        // the shell expands a RUN's words itself; the step's environment carries the values
        Assert.Equal(["/bin/sh", "-c", "echo $VERSION"], shell.Args);
        Assert.Equal(["PATH=" + ImageConfigRules.DefaultLinuxPath, "APP=/opt/app-2.0", "VERSION=2.0"], shell.Env);
        Assert.Equal("/opt/app-2.0", shell.Cwd);
        Assert.Equal("/cache/2.0", Assert.Single(shell.Mounts).Target);
        Assert.Equal(["echo", "$VERSION"], exec.Args);
        Assert.Equal("docker.io/library/alpine:latest", Op<ImageSource>(graph.Vertices[0]).Reference);
    }

    [Fact]
    public void AnUnusedStageIsNotInTheGraph()
    {
        const string dockerfile = """
            FROM busybox AS unused
            RUN never
            FROM busybox AS used
            RUN always
            FROM busybox
            COPY --from=used /x /x
            """;
        var graph = Single(dockerfile);
        var targeted = Single(dockerfile, OnAmd64 with { Target = "used" });

        Assert.Equal(["used", null], graph.Stages.Select(s => s.Stage.Name));
        Assert.DoesNotContain(Execs(graph), e => e.Args.Contains("never"));
        Assert.Contains(Execs(graph), e => e.Args.Contains("always"));
        Assert.Equal("used", Assert.Single(targeted.Stages).Stage.Name);
        Assert.Equal(StageNamed(graph, "used").Root!.Digest, targeted.Target.Root!.Digest);
    }

    [Fact]
    public void AChangedBuildArgChangesOnlyTheDigestsAfterItsUse()
    {
        const string dockerfile = """
            FROM alpine AS other
            RUN independent
            FROM busybox
            RUN before
            ARG V
            RUN echo uses
            COPY --from=other /x /x
            """;
        PlatformGraph With(string v) => Single(dockerfile, OnAmd64 with { BuildArgs = new Dictionary<string, string> { ["V"] = v } });
        var (one, two) = (With("1"), With("2"));

        var kept = two.Vertices.Select(v => v.Digest).ToHashSet();
        var changed = one.Vertices.Where(v => !kept.Contains(v.Digest)).Select(v => v.Name);
        Assert.Equal(["[stage-1 3/4] RUN echo uses", "[stage-1 4/4] COPY --from=other /x /x"], changed);
        Assert.Equal(one.Vertices.Count, two.Vertices.Count);
        Assert.Equal(StageNamed(one, "other").Root!.Digest, StageNamed(two, "other").Root!.Digest);
    }

    [Fact]
    public void AResolvedBaseConfigReachesTheStepsAndPinsTheSource()
    {
        const string pinned = "docker.io/library/busybox@sha256:" + "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12";
        var config = new ImageConfig
        {
            OS = "linux", Architecture = "amd64",
            Config = new ContainerConfig { Env = ["PATH=/x", "HOME=/h"], WorkingDir = "/work", User = "app", Shell = ["/bin/bash", "-c"], OnBuild = ["RUN echo triggered"] },
        };
        var images = new StubImages(("docker.io/library/busybox:latest", new ImageMetadata(pinned, config)));

        var graph = Single("FROM busybox\nRUN make\n", OnAmd64 with { Images = images });

        Assert.Equal(pinned, Op<ImageSource>(graph.Vertices[0]).Reference);
        var (trigger, make) = (Execs(graph)[0], Execs(graph)[1]);
        Assert.Equal(["/bin/bash", "-c", "echo triggered"], trigger.Args);
        Assert.Equal(["/bin/bash", "-c", "make"], make.Args);
        Assert.Equal(["PATH=/x", "HOME=/h"], make.Env);
        Assert.Equal(("/work", "app"), (make.Cwd, make.User));
        Assert.Equal("[stage-0 3/3] RUN make", graph.Target.Root!.Name);
    }

    [Fact]
    public void MountsNameTheInputsTheyRead()
    {
        var graph = Single("""
            FROM alpine AS tools
            FROM busybox
            WORKDIR /w
            RUN --mount=type=bind,from=tools,source=/usr/bin,target=/t --mount=type=bind,target=ctx --mount=type=secret,id=tok,env=TOKEN --mount=type=tmpfs,target=/tmp run
            """);

        var run = graph.Target.Root!;
        Assert.Equal(["[stage-1 2/3] WORKDIR /w", "[tools 1/1] FROM docker.io/library/alpine:latest", "[internal] load build context"],
            run.Inputs.Select(i => i.Name));
        var mounts = Op<ExecOp>(run).Mounts;
        Assert.Equal((1, "/usr/bin", "/t", true), (mounts[0].Input, mounts[0].Selector, mounts[0].Target, mounts[0].ReadOnly));
        Assert.Equal((2, "/", "/w/ctx"), (mounts[1].Input, mounts[1].Selector, mounts[1].Target));
        Assert.Equal(("tok", "TOKEN", "", (int?)null), (mounts[2].Id, mounts[2].Env, mounts[2].Target, mounts[2].Input));
        Assert.Equal((MountType.Tmpfs, "/tmp"), (mounts[3].Type, mounts[3].Target));
    }

    [Fact]
    public void CopyAndAddAssembleTheirActions()
    {
        var graph = Single("""
            FROM scratch
            ARG NAME=world
            COPY --chown=app:staff --chmod=0755 <<EOF /usr/local/bin/greet.sh
            echo hello $NAME
            EOF
            ADD --checksum=sha256:0000000000000000000000000000000000000000000000000000000000000000 https://example.com/dl/tool.tgz /opt/
            COPY --from=ctx a.txt /a.txt
            """, OnAmd64 with { NamedContexts = new Dictionary<string, NamedContext> { ["ctx"] = new(NamedContextKind.Directory, "/srv/ctx") } });

        var (heredoc, add, copy) = (graph.Vertices[0], graph.Vertices[2], graph.Vertices[4]);
        Assert.Null(Op<FileOp>(heredoc).BaseInput);
        var actions = Op<FileOp>(heredoc).Actions;
        Assert.Equal(new MkdirAction("/usr/local/bin", 0b111_101_101) { MakeParents = true, Owner = new FileOwner("app", "staff") }, actions[0]);
        var file = Assert.IsType<MkfileAction>(actions[1]);
        Assert.Equal(("/usr/local/bin/greet.sh", 0b111_101_101u, "echo hello world\n", new FileOwner("app", "staff")),
            (file.Path, file.Mode, System.Text.Encoding.UTF8.GetString(file.Data.Span), file.Owner));
        var url = Op<HttpSource>(add.Inputs[1]);
        Assert.Equal(("tool.tgz", "sha256:" + new string('0', 64)), (url.Filename, url.Checksum));
        var fetched = Assert.IsType<CopyAction>(Assert.Single(Op<FileOp>(add).Actions));
        Assert.Equal((1, "/tool.tgz", "/opt/", false), (fetched.SourceInput, fetched.Source, fetched.Destination, fetched.Options.AttemptUnpack));
        Assert.Equal("ctx", Op<LocalSource>(copy.Inputs[1]).Name);
    }

    [Fact]
    public void AStageBuiltFromAnotherRunsItsOnbuildTriggersFirst()
    {
        var graph = Single("""
            FROM busybox AS base
            ONBUILD RUN echo hook
            FROM base
            RUN main
            """);

        Assert.IsType<ImageSource>(StageNamed(graph, "base").Root!.Definition);
        Assert.Equal([["/bin/sh", "-c", "echo hook"], ["/bin/sh", "-c", "main"]], Execs(graph).Select(e => e.Args));
        Assert.Equal("[stage-1 3/3] RUN main", graph.Target.Root!.Name);
        Assert.Empty(graph.Target.Config.OnBuild);
    }

    [Fact]
    public void NoCacheMarksEveryVertexAndLeavesTheDigests()
    {
        const string dockerfile = "FROM busybox\nCOPY . /src\nRUN make\n";
        var cached = Single(dockerfile);
        var uncached = Single(dockerfile, OnAmd64 with { NoCache = true });

        Assert.All(uncached.Vertices, v => Assert.True(v.IgnoreCache, v.Name));
        Assert.All(cached.Vertices, v => Assert.False(v.IgnoreCache, v.Name));
        Assert.Equal(cached.Vertices.Select(v => v.Digest), uncached.Vertices.Select(v => v.Digest));
    }

    [Fact]
    public void ANamedContextStandsInForTheImageItNames()
    {
        var contexts = new Dictionary<string, NamedContext>
        {
            ["base"] = new(NamedContextKind.Image, "alpine:3.19"),
            ["tools"] = new(NamedContextKind.Directory, "/srv/tools"),
        };
        var graph = Single("FROM base\nCOPY --from=tools /bin/t /usr/bin/t\n", OnAmd64 with { NamedContexts = contexts });

        var from = graph.Target.Root!.Inputs[0];
        Assert.Equal("[stage-0 1/2] FROM base", from.Name);
        Assert.Equal("docker.io/library/alpine:3.19", Op<ImageSource>(from).Reference);
        Assert.Equal("tools", Op<LocalSource>(graph.Target.Root!.Inputs[1]).Name);
    }

    [Theory]
    [InlineData("FROM busybox\nRUN --mount=type=bind,source=x make\n", "Dockerfile:2: mount target must be set for bind mounts")]
    [InlineData("FROM busybox\n\nCOPY a b /c\n", "Dockerfile:3: When using COPY with more than one source file, the destination must be a directory and end with a /")]
    [InlineData("FROM busybox\nADD --checksum=sha256:00 a /a\n", "Dockerfile:2: checksum can't be specified for non-HTTP(S) sources")]
    [InlineData("FROM --platform=linux/ busybox\n", "Dockerfile:1: invalid platform \"linux/\": unknown operating system or architecture")]
    public void BadInputIsAnErrorWithItsLine(string dockerfile, string message)
    {
        var error = Assert.Throws<DockerfileException>(() => Single(dockerfile));
        Assert.Equal(message, error.Message);
    }

    private sealed class StubImages(params (string Reference, ImageMetadata Metadata)[] images) : IImageMetadata
    {
        public ImageMetadata? Find(string reference, Platform platform) => images.FirstOrDefault(i => i.Reference == reference).Metadata;
    }
}
