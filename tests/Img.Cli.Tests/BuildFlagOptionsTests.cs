using System.Text.Json;
using Img.Build;
using Img.Cli.Commands;
using Img.Cli.Framework;
using Img.Cli.Progress;
using Img.Oci;
using Img.Runtime.Oci;

namespace Img.Cli.Tests;

public sealed class BuildFlagOptionsTests
{
    private static ProgressKind Kind(bool terminal, params string[] args) =>
        ProgressModes.Choose(FlagParser.Parse(args, BuildFlags.All), terminal).Kind;

    [Fact]
    public void ProgressFollowsBuildxAndNoConsoleIsPlain()
    {
        Assert.Equal(ProgressKind.Tty, Kind(true));
        Assert.Equal(ProgressKind.Plain, Kind(false));
        Assert.Equal(ProgressKind.Plain, Kind(true, "--no-console"));
        Assert.Equal(ProgressKind.Plain, Kind(true, "--progress", "plain"));
        Assert.Equal(ProgressKind.Tty, Kind(false, "--progress=tty"));
        Assert.Equal(ProgressKind.RawJson, Kind(true, "--progress", "rawjson"));
        Assert.Equal(ProgressKind.Quiet, Kind(true, "--progress", "quiet"));
        Assert.Equal(ProgressKind.Quiet, Kind(true, "-q", "--progress", "plain"));
        Assert.Equal(ProgressKind.RawJson, Kind(true, "--no-console", "--progress", "rawjson"));
        Assert.False(new ProgressMode(ProgressKind.RawJson).ShowsHeadings);
        Assert.False(new ProgressMode(ProgressKind.Quiet).ShowsHeadings);
        Assert.True(new ProgressMode(ProgressKind.Plain).ShowsHeadings);
        Assert.Equal("invalid progress mode \"x\": want auto, plain, tty, quiet or rawjson",
            Assert.Throws<CommandException>(() => Kind(true, "--progress", "x")).Message);
    }

    [Fact]
    public void NetworkModes()
    {
        Assert.Equal(RunNetwork.Host, RunOptions.Network(""));
        Assert.Equal(RunNetwork.Host, RunOptions.Network("default"));
        Assert.Equal(RunNetwork.Host, RunOptions.Network("host"));
        Assert.Equal(RunNetwork.None, RunOptions.Network("none"));
        Assert.Equal("network mode \"bridge\" not supported: use default, host or none",
            Assert.Throws<CommandException>(() => RunOptions.Network("bridge")).Message);
    }

    [Fact]
    public void AddHostTakesDockersForms()
    {
        Assert.Equal([("a", "10.0.0.1"), ("b", "::1"), ("c", "fe80::1"), ("d", "1.2.3.4")],
            RunOptions.ExtraHosts(["a:10.0.0.1", "b:::1", "c:[fe80::1]", "d=1.2.3.4"]));
        Assert.Contains("invalid IP address in add-host: \"nope\"", Assert.Throws<CommandException>(() => RunOptions.ExtraHosts(["a:nope"])).Message);
        Assert.Contains("bad format for add-host", Assert.Throws<CommandException>(() => RunOptions.ExtraHosts([":1.2.3.4"])).Message);
        Assert.Contains("host-gateway", Assert.Throws<CommandException>(() => RunOptions.ExtraHosts(["a:host-gateway"])).Message);
    }

    [Fact]
    public void ShmSizeTakesDockersUnits()
    {
        Assert.Null(RunOptions.ShmSize(""));
        Assert.Equal(2048, RunOptions.ShmSize("2048"));
        Assert.Equal(64L << 20, RunOptions.ShmSize("64m"));
        Assert.Equal(1L << 30, RunOptions.ShmSize("1GB"));
        Assert.Equal(1536L << 10, RunOptions.ShmSize("1.5m"));
        Assert.Contains("invalid size: 'lots'", Assert.Throws<CommandException>(() => RunOptions.ShmSize("lots")).Message);
    }

    [Fact]
    public void UlimitsTakeDockersSyntaxAndRefuseWhatCannotBeRaised()
    {
        Assert.Equal([new Ulimit("nofile", 512, 1024), new Ulimit("core", 0, 0)], RunOptions.Ulimits(["nofile=512:1024", "core=0"]));
        Assert.Equal("RLIMIT_NOFILE", new Ulimit("nofile", 1, 1).Type);
        Assert.Contains("invalid ulimit type: files", Assert.Throws<CommandException>(() => RunOptions.Ulimits(["files=1"])).Message);
        Assert.Contains("soft limit must be less than or equal to hard limit", Assert.Throws<CommandException>(() => RunOptions.Ulimits(["nofile=10:5"])).Message);
        Assert.Contains("an unprivileged build cannot raise it", Assert.Throws<CommandException>(() => RunOptions.Ulimits(["nofile=1:99999999999"])).Message);
    }

    [Fact]
    public void ProvenanceIsOffUnlessAskedAndSpelledAsBuildx()
    {
        Assert.Null(AttestationOptions.Provenance("", []));
        Assert.Equal(ProvenanceMode.Min, AttestationOptions.Provenance("true", []));
        Assert.Null(AttestationOptions.Provenance("false", []));
        Assert.Equal(ProvenanceMode.Max, AttestationOptions.Provenance("mode=max", []));
        Assert.Equal(ProvenanceMode.Min, AttestationOptions.Provenance("", ["type=provenance"]));
        Assert.Equal(ProvenanceMode.Max, AttestationOptions.Provenance("", ["type=provenance,mode=max"]));
        Assert.Null(AttestationOptions.Provenance("true", ["type=provenance,disabled=true"]));
        // docker/build-push-action's default.
        Assert.Equal(ProvenanceMode.Min, AttestationOptions.Provenance("", ["type=provenance,mode=min,inline-only=true,builder-id=https://github.com/o/r/actions/runs/1"]));
        Assert.Null(AttestationOptions.Provenance("", [], "false"));
        Assert.Contains("only --sbom=false", Assert.Throws<CommandException>(() => AttestationOptions.Provenance("", [], "true")).Message);
        Assert.Contains("only type=provenance", Assert.Throws<CommandException>(() => AttestationOptions.Provenance("", ["type=sbom"])).Message);
        Assert.Contains("type is required", Assert.Throws<CommandException>(() => AttestationOptions.Provenance("", ["mode=max"])).Message);
        Assert.Contains("mode must be min or max", Assert.Throws<CommandException>(() => AttestationOptions.Provenance("mode=full", [])).Message);
    }

    [Fact]
    public void RawJsonLinesAreSolveStatuses()
    {
        var err = new StringWriter();
        var p = new RawJsonProgress(err);
        p.Report(new StepEvent(1, "[stage-0 2/2] RUN x", StepState.Started));
        p.Report(new StepEvent(1, "[stage-0 2/2] RUN x", StepState.Log, "hello"));
        p.Report(new StepEvent(1, "[stage-0 2/2] RUN x", StepState.Cached));
        p.Report(new StepEvent(2, "exporting to image", StepState.Started));
        p.Report(new StepEvent(2, "exporting to image", StepState.Error, "boom"));
        var lines = err.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(5, lines.Count);
        var vertex = lines[0].GetProperty("vertexes")[0];
        var digest = vertex.GetProperty("digest").GetString();
        Assert.Matches("^sha256:[0-9a-f]{64}$", digest);
        Assert.False(vertex.TryGetProperty("completed", out _));
        var log = lines[1].GetProperty("logs")[0];
        Assert.Equal(digest, log.GetProperty("vertex").GetString());
        Assert.Equal(1, log.GetProperty("stream").GetInt32());
        Assert.Equal("hello\n", System.Text.Encoding.UTF8.GetString(log.GetProperty("data").GetBytesFromBase64()));
        var cached = lines[2].GetProperty("vertexes")[0];
        Assert.True(cached.GetProperty("cached").GetBoolean());
        Assert.Equal(vertex.GetProperty("started").GetString(), cached.GetProperty("started").GetString());
        Assert.True(cached.TryGetProperty("completed", out _));
        Assert.Equal("boom", lines[4].GetProperty("vertexes")[0].GetProperty("error").GetString());
        Assert.NotEqual(digest, lines[4].GetProperty("vertexes")[0].GetProperty("digest").GetString());
    }

    [Fact]
    public void MetadataHasBuildxKeysForImagesOnly()
    {
        var manifest = new Descriptor { MediaType = MediaTypes.OciManifest, Digest = Digest.Compute([1]), Size = 10 };
        var config = new Descriptor { MediaType = MediaTypes.OciConfig, Digest = Digest.Compute([2]), Size = 5 };
        var request = new BuildRequest { ContextDir = "/c", DockerfilePath = "/c/Dockerfile", Names = [Reference.Parse("docker.io/library/a:1"), Reference.Parse("example.com/b:2")] };
        using var doc = JsonDocument.Parse(BuildResultFiles.Metadata(new BuiltImage(manifest, config), request));
        var m = doc.RootElement;
        Assert.Equal(manifest.Digest.ToString(), m.GetProperty("containerimage.digest").GetString());
        Assert.Equal(config.Digest.ToString(), m.GetProperty("containerimage.config.digest").GetString());
        Assert.Equal(MediaTypes.OciManifest, m.GetProperty("containerimage.descriptor").GetProperty("mediaType").GetString());
        Assert.Equal(10, m.GetProperty("containerimage.descriptor").GetProperty("size").GetInt64());
        Assert.Equal("docker.io/library/a:1,example.com/b:2", m.GetProperty("image.name").GetString());

        var index = new BuiltImage(manifest with { MediaType = MediaTypes.OciIndex }, null);
        Assert.Equal(manifest.Digest, index.ImageId);
        using var multi = JsonDocument.Parse(BuildResultFiles.Metadata(index, request));
        Assert.False(multi.RootElement.TryGetProperty("containerimage.config.digest", out _));

        using var local = JsonDocument.Parse(BuildResultFiles.Metadata(new BuiltImage(manifest, config),
            request with { Output = OutputSpec.Parse("type=local,dest=/tmp/x", false) }));
        Assert.Empty(local.RootElement.EnumerateObject());
    }
}
