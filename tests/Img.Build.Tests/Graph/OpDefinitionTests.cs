using System.Text;
using Img.Build.Graph;
using Img.Dockerfile;
using Img.Oci;
using Img.Runtime.Oci;
using MountCacheSharing = Img.Dockerfile.CacheSharing;

namespace Img.Build.Tests.Graph;

public class OpDefinitionTests
{
    private static readonly Platform Amd64 = Platform.Parse("linux/amd64");

    /// <summary>Equal definitions built apart share a digest; each variant differs from the base and from each other.</summary>
    private static void AssertDigests(Func<IOpDefinition> make, params IOpDefinition[] variants)
    {
        var digest = OpDefinitions.DigestOf(make());
        Assert.Equal(digest, OpDefinitions.DigestOf(make()));
        var all = variants.Select(OpDefinitions.DigestOf).Prepend(digest).ToList();
        Assert.Equal(all.Count, all.Distinct().Count());
    }

    [Fact]
    public void DigestsAreStableAcrossProcesses()
    {
        // cache keys on disk and in exported caches depend on these bytes: a change here is a change of every key
        var image = OpDefinitions.DigestOf(new ImageSource("docker.io/library/busybox:latest", Amd64));
        Assert.Equal(PinnedImageDigest, image.ToString());
    }

    [Fact]
    public void ImageSourceDigestCoversReferenceAndPlatform() => AssertDigests(
        () => new ImageSource("docker.io/library/busybox:latest", Amd64),
        new ImageSource("docker.io/library/busybox:1.36", Amd64),
        new ImageSource("docker.io/library/busybox:latest", Platform.Parse("linux/arm64")),
        new ImageSource("docker.io/library/busybox:latest", Platform.Parse("linux/arm/v7")),
        new ImageSource("docker.io/library/busybox:latest", Amd64 with { OSVersion = "10.0" }));

    [Fact]
    public void LocalSourceDigestCoversNameAndPatterns() => AssertDigests(
        () => new LocalSource("context") { Include = ["src"], Exclude = ["*.tmp"] },
        new LocalSource("docs") { Include = ["src"], Exclude = ["*.tmp"] },
        new LocalSource("context") { Include = [], Exclude = ["*.tmp"] },
        new LocalSource("context") { Include = ["src"], Exclude = [] },
        // a list boundary is part of the form: ["src","*.tmp"] in one list is not one in each
        new LocalSource("context") { Include = ["src", "*.tmp"] });

    [Fact]
    public void ExecDigestCoversEveryField()
    {
        static ExecOp Run() => new(["/bin/sh", "-c", "make"])
        {
            Env = ["PATH=/usr/bin"],
            Cwd = "/src",
            User = "build",
            Mounts = [new ExecMount(MountType.Cache, "/root/.cache") { Id = "go" }],
        };
        var run = Run();
        AssertDigests(Run,
            run with { Args = ["/bin/sh", "-c", "make install"] },
            run with { Args = ["/bin/sh -c", "make"] },
            run with { Env = ["PATH=/usr/bin", "CGO_ENABLED=0"] },
            run with { Cwd = "/" },
            run with { User = "" },
            run with { Network = RunNetwork.None },
            run with { Platform = Platform.Parse("linux/arm64") },
            run with { ExtraHosts = [("db", "10.0.0.2")] },
            run with { ShmSizeBytes = 1 << 27 },
            run with { Ulimits = [new Ulimit("nofile", 1024, 2048)] },
            run with { Mounts = [] });
    }

    [Fact]
    public void ExecMountDigestCoversEveryField()
    {
        static ExecOp With(ExecMount m) => new(["true"]) { Mounts = [m] };
        var cache = new ExecMount(MountType.Cache, "/cache") { Id = "go" };
        AssertDigests(() => With(new ExecMount(MountType.Cache, "/cache") { Id = "go" }),
            With(cache with { Type = MountType.Tmpfs }),
            With(cache with { Target = "/other" }),
            With(cache with { Input = 1 }),
            With(cache with { Selector = "/sub" }),
            With(cache with { ReadOnly = true }),
            With(cache with { Id = "npm" }),
            With(cache with { Sharing = MountCacheSharing.Locked }),
            With(cache with { Uid = 1000 }),
            With(cache with { Gid = 1000 }),
            With(cache with { Mode = 0x1ed }),
            With(cache with { SizeBytes = 1 << 20 }),
            With(cache with { Env = "TOKEN" }),
            With(cache with { Required = true }));
    }

    [Fact]
    public void CopyDigestCoversEveryOption()
    {
        static FileOp Copy(CopyActionOptions o) => new([new CopyAction(1, "/src", "/app/") { Options = o }]);
        var o = new CopyActionOptions();
        AssertDigests(() => Copy(new CopyActionOptions()),
            Copy(o with { Chown = new FileOwner("1000") }),
            Copy(o with { Chown = new FileOwner("1000", "1000") }),
            Copy(o with { Chmod = "0755" }),
            Copy(o with { Link = true }),
            Copy(o with { Parents = true }),
            Copy(o with { Exclude = ["*.md"] }),
            Copy(o with { FollowSymlinks = false }),
            Copy(o with { AttemptUnpack = true }),
            Copy(o with { AllowWildcard = false }),
            Copy(o with { AllowEmptyWildcard = true }),
            Copy(o with { CreateDestPath = false }),
            new FileOp([new CopyAction(2, "/src", "/app/")]),
            new FileOp([new CopyAction(1, "/src2", "/app/")]),
            new FileOp([new CopyAction(1, "/src", "/app")]),
            Copy(o) with { BaseInput = null });
    }

    [Fact]
    public void MkdirMkfileAndRmDigestsCoverEveryField()
    {
        var mkdir = new MkdirAction("/app", 0x1ed);
        var mkfile = new MkfileAction("/app/run.sh", 0x1ed, Encoding.UTF8.GetBytes("echo hi\n"));
        var rm = new RmAction("/tmp/x");
        AssertDigests(() => new FileOp([new MkdirAction("/app", 0x1ed), new MkfileAction("/app/run.sh", 0x1ed, Encoding.UTF8.GetBytes("echo hi\n")), new RmAction("/tmp/x")]),
            new FileOp([mkdir with { Path = "/srv" }, mkfile, rm]),
            new FileOp([mkdir with { Mode = 0x1c0 }, mkfile, rm]),
            new FileOp([mkdir with { MakeParents = true }, mkfile, rm]),
            new FileOp([mkdir with { Owner = new FileOwner("app") }, mkfile, rm]),
            new FileOp([mkdir, mkfile with { Path = "/app/other.sh" }, rm]),
            new FileOp([mkdir, mkfile with { Mode = 0x1a4 }, rm]),
            new FileOp([mkdir, mkfile with { Data = Encoding.UTF8.GetBytes("echo ho\n") }, rm]),
            new FileOp([mkdir, mkfile with { Owner = new FileOwner("app", "staff") }, rm]),
            new FileOp([mkdir, mkfile, rm with { Path = "/tmp/y" }]),
            new FileOp([mkdir, mkfile, rm with { AllowNotFound = true }]),
            new FileOp([mkdir, mkfile, rm with { AllowWildcard = true }]),
            new FileOp([mkfile, mkdir, rm]),
            new FileOp([mkdir, mkfile]));
    }

    [Fact]
    public void KindsNeverShareADigest() => Assert.NotEqual(
        OpDefinitions.DigestOf(new LocalSource("x")),
        OpDefinitions.DigestOf(new FileOp([]) { BaseInput = null }));

    [Fact]
    public void AVertexDigestCoversItsDefinitionAndInputsButNotItsName()
    {
        static Vertex Base(string r) => new("FROM", new ImageSource(r, Amd64));
        var run = new ExecOp(["make"]);
        var vertex = new Vertex("[1/2] RUN make", run, [Base("busybox")]);

        Assert.Equal(vertex.Digest, new Vertex("[linux/amd64 1/2] RUN make", new ExecOp(["make"]), [Base("busybox")]).Digest);
        Assert.NotEqual(vertex.Digest, new Vertex("[1/2] RUN make", run, [Base("alpine")]).Digest);
        Assert.NotEqual(vertex.Digest, new Vertex("[1/2] RUN make", run, [Base("busybox"), Base("busybox")]).Digest);
        Assert.NotEqual(vertex.Digest, new Vertex("[1/2] RUN make", run).Digest);
        Assert.NotEqual(vertex.Digest, new Vertex("[1/2] RUN make", new ExecOp(["make", "-j2"]), [Base("busybox")]).Digest);
    }

    /// <summary>
    /// sha256 of the documented form, computed apart from this code: for each field a little-endian int32 length and
    /// the UTF-8 name, a tag ('s' text, 'n' null), and for text its length and bytes — kind, reference, platform,
    /// os.version (null).
    /// </summary>
    private const string PinnedImageDigest = "sha256:ee0087e1e1e1b11bc4bed9f74f1f7ff0bcbc34c63143254c235025473209bee4";
}
