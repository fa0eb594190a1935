using System.Text.Json;
using Img.Build.Graph;
using Img.Build.Graph.Convert;
using Img.Dockerfile;
using Img.Oci;

namespace Img.Build.Tests.Graph;

public class StageConfigTests
{
    private static readonly Platform Amd64 = Platform.Parse("linux/amd64");

    private sealed class OneImage(ImageConfig config) : IImageMetadata
    {
        public ImageMetadata? Find(string reference, Platform platform) => new(reference, config);
    }

    private static ImageConfig Base() => new()
    {
        OS = "linux", Architecture = "amd64", Author = "upstream",
        Config = new ContainerConfig
        {
            Env = ["PATH=/bin"], Cmd = ["sh"], Labels = new(StringComparer.Ordinal) { ["base"] = "x" },
            Extra = new() { ["Custom"] = JsonDocument.Parse("\"kept\"").RootElement },
        },
    };

    private static PlatformGraph Convert(string dockerfile, ImageConfig baseConfig) => DockerfileConverter.Convert(
        DockerfileDocument.Parse(dockerfile),
        new ConvertOptions { Platforms = [Amd64], BuildPlatform = Amd64, Images = new OneImage(baseConfig) }).Platforms.Single();

    [Fact]
    public void ConfigInstructionsBuildTheImageConfigAndItsHistory()
    {
        var baseConfig = Base();
        var before = OciJson.Serialize(baseConfig);
        var graph = Convert("""
            FROM busybox
            LABEL a=1 b=2
            EXPOSE 80 443/udp
            VOLUME /data
            USER app
            CMD ["serve"]
            ENTRYPOINT ["/init"]
            HEALTHCHECK --interval=5s CMD true
            STOPSIGNAL SIGTERM
            MAINTAINER me
            WORKDIR /srv
            RUN setup
            """, baseConfig);

        var image = OciStageConfig.ToImageConfig(graph.Target.Config);
        var c = image.Config;
        Assert.Equal(["a", "b", "base"], c.Labels!.Keys);
        Assert.Equal(["443/udp", "80/tcp"], c.ExposedPorts!.Keys);
        Assert.Equal(["/data"], c.Volumes!.Keys);
        Assert.Equal(("app", "/srv", "SIGTERM", "me"), (c.User, c.WorkingDir, c.StopSignal, image.Author));
        Assert.Equal(["/init"], c.Entrypoint!);
        Assert.Equal(["serve"], c.Cmd!); // set in this stage before ENTRYPOINT: kept
        Assert.Equal(5_000_000_000L, c.Healthcheck!.Interval);
        Assert.Equal("kept", c.Extra!["Custom"].GetString());
        Assert.Equal(before, OciJson.Serialize(baseConfig)); // the base's config is read, never changed

        var history = graph.Target.Config.History;
        Assert.Equal(["LABEL a=1 b=2", "EXPOSE map[443/udp:{} 80/tcp:{}]", "VOLUME [/data]", "USER app", "CMD [\"serve\"]",
            "ENTRYPOINT [\"/init\"]", "HEALTHCHECK CMD-SHELL true", "STOPSIGNAL SIGTERM", "MAINTAINER me", "WORKDIR /srv", "RUN /bin/sh -c setup # buildkit"],
            history.Select(h => h.CreatedBy));
        Assert.All(history.SkipLast(2), h => Assert.Null(h.Step));
        Assert.Same(graph.Target.Root, history[^1].Step);
    }

    [Fact]
    public void EntrypointResetsAnInheritedCmdAndAStageFromAStageContinuesItsConfig()
    {
        var graph = Convert("""
            FROM busybox AS base
            ENV A=1
            ENTRYPOINT ["/init"]
            FROM base
            LABEL b=2
            """, Base());

        var first = OciStageConfig.ToImageConfig(graph.Stages[0].Config);
        var second = graph.Target.Config;
        Assert.Null(first.Config.Cmd);
        Assert.Equal(["PATH=/bin", "A=1"], first.Config.Env!);
        Assert.Equal(["ENV A=1", "ENTRYPOINT [\"/init\"]", "LABEL b=2"], second.History.Select(h => h.CreatedBy));
        Assert.Equal(["/init"], second.Entrypoint!);
    }
}
