using System.Collections.Concurrent;
using Img.Build.Graph;
using Img.Build.Graph.Convert;
using Img.Dockerfile;
using Img.Oci;

namespace Img.Build.Tests.Graph;

public class ImageResolutionTests
{
    private static readonly Platform Amd64 = Platform.Parse("linux/amd64");
    private static readonly Platform Arm64 = Platform.Parse("linux/arm64");

    private static string Pinned(string reference) => reference.Split(':')[0] + "@sha256:" + new string('1', 64);

    [Fact]
    public async Task EveryImageIsResolvedOncePerPlatformIncludingThoseOnlyATriggerNames()
    {
        var calls = new ConcurrentQueue<(string, Platform)>();
        Task<ImageMetadata> Resolve(string reference, Platform platform, CancellationToken ct)
        {
            calls.Enqueue((reference, platform));
            var config = new ImageConfig { OS = platform.OS, Architecture = platform.Architecture };
            if (reference.Contains("/onbuild-base", StringComparison.Ordinal))
                config.Config.OnBuild = ["COPY --from=golang:1.22 /usr/local/go /go"];
            return Task.FromResult(new ImageMetadata(Pinned(reference), config));
        }

        var graph = await ImageResolution.ConvertAsync(DockerfileDocument.Parse("""
            FROM --platform=$BUILDPLATFORM alpine AS tools
            RUN fetch
            FROM example/onbuild-base
            COPY --from=tools /out /out
            """), new ConvertOptions { Platforms = [Amd64, Arm64], BuildPlatform = Amd64 }, Resolve, CancellationToken.None);

        Assert.Equal(5, calls.Count); // alpine for the build platform, onbuild-base and golang for each platform
        Assert.Equal(calls.Count, calls.Distinct().Count());
        Assert.Contains(("docker.io/library/golang:1.22", Arm64), calls);
        var sources = graph.Platforms.SelectMany(p => p.Vertices).Select(v => v.Definition).OfType<ImageSource>().ToList();
        Assert.All(sources, s => Assert.Contains("@sha256:", s.Reference, StringComparison.Ordinal));
        Assert.Equal(3, sources.Select(s => s.Reference).Distinct().Count());
    }

    [Fact]
    public async Task AnImageThatCannotBeResolvedFailsTheConversion()
    {
        static Task<ImageMetadata> Fail(string reference, Platform platform, CancellationToken ct) =>
            Task.FromException<ImageMetadata>(new InvalidOperationException($"{reference}: not found"));

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => ImageResolution.ConvertAsync(
            DockerfileDocument.Parse("FROM nosuch/image\n"), new ConvertOptions { Platforms = [Amd64], BuildPlatform = Amd64 }, Fail, CancellationToken.None));

        Assert.Equal("docker.io/nosuch/image:latest: not found", error.Message);
    }
}
