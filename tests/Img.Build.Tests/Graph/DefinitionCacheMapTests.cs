using Img.Build.Graph;
using Img.Build.Graph.Convert;
using Img.Dockerfile;
using Img.Oci;

namespace Img.Build.Tests.Graph;

public class DefinitionCacheMapTests
{
    [Fact]
    public void AFileOpReadsItsBaseWholeAndItsSourcesByPath()
    {
        var file = new FileOp([new CopyAction(1, "src/", "/app/"), new CopyAction(1, "go.mod", "/app/"), new CopyAction(2, "/bin/tool", "/usr/bin/"), new CopyAction(0, "/etc/x", "/y")]);

        var reads = DefinitionCacheMaps.ReadPaths(file, 3);

        Assert.Null(reads[0]);
        Assert.Equal(["src/", "go.mod"], reads[1]);
        Assert.Equal(["/bin/tool"], reads[2]);
    }

    [Fact]
    public void AnExecReadsItsRootWholeAndItsBindMountsByPathWritableOrNot()
    {
        var exec = new ExecOp(["make"])
        {
            Mounts =
            [
                new ExecMount(MountType.Bind, "/src") { Input = 1, Selector = "/app", ReadOnly = true },
                new ExecMount(MountType.Bind, "/out") { Input = 2, Selector = "/out" },
                new ExecMount(MountType.Bind, "/all") { Input = 3, ReadOnly = true },
            ],
        };

        var reads = DefinitionCacheMaps.ReadPaths(exec, 5);

        Assert.Null(reads[0]);
        Assert.Equal(["/app"], reads[1]);
        Assert.Equal(["/out"], reads[2]); // a writable bind's writes are dropped: it reads only its path
        Assert.Equal(["/"], reads[3]);
        Assert.Null(reads[4]); // named by nothing: read whole rather than trusted to be unread
    }

    [Fact]
    public async Task AContextChangeOutsideWhatCopyReadsIsACacheHit()
    {
        var graph = DockerfileConverter.Convert(DockerfileDocument.Parse("FROM busybox\nCOPY src/ /app/\nRUN make\n"),
            new ConvertOptions { Platforms = [Platform.Parse("linux/amd64")], BuildPlatform = Platform.Parse("linux/amd64") });
        var target = graph.Targets.Single();
        var copy = target.Inputs[0];
        var cache = new MemoryCacheStore();
        async Task<CountingOps> Solve(string source, string readme)
        {
            var ops = new CountingOps(new Dictionary<string, string> { ["src/"] = source, ["README"] = readme });
            await using var solver = new GraphSolver(new GraphSolverOptions { Ops = ops, Cache = cache });
            await solver.SolveAsync(target, CancellationToken.None);
            return ops;
        }

        var first = await Solve("v1", "a");
        var readmeChanged = await Solve("v1", "b");
        var sourceChanged = await Solve("v2", "b");

        Assert.Equal((1, 1), (first.RunsOf(copy), first.RunsOf(target)));
        Assert.Equal((0, 0), (readmeChanged.RunsOf(copy), readmeChanged.RunsOf(target)));
        Assert.Equal((1, 1), (sourceChanged.RunsOf(copy), sourceChanged.RunsOf(target)));
    }
}
