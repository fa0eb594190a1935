using Img.Oci;

namespace Img.Oci.Tests;

public sealed class ReferenceTests
{
    [Theory]
    [InlineData("busybox", "docker.io/library/busybox:latest", "busybox:latest")]
    [InlineData("jess/thing", "docker.io/jess/thing:latest", "jess/thing:latest")]
    [InlineData("name:v1", "docker.io/library/name:v1", "name:v1")]
    [InlineData("docker.io/library/alpine:3.19", "docker.io/library/alpine:3.19", "alpine:3.19")]
    [InlineData("index.docker.io/jess/x", "docker.io/jess/x:latest", "jess/x:latest")]
    [InlineData("localhost/foo", "localhost/foo:latest", "localhost/foo:latest")]
    [InlineData("localhost:5000/foo/bar:tag", "localhost:5000/foo/bar:tag", "localhost:5000/foo/bar:tag")]
    [InlineData("127.0.0.1:5000/x", "127.0.0.1:5000/x:latest", "127.0.0.1:5000/x:latest")]
    [InlineData("r.j3ss.co/stress", "r.j3ss.co/stress:latest", "r.j3ss.co/stress:latest")]
    [InlineData("a/b/c/d:e", "docker.io/a/b/c/d:e", "a/b/c/d:e")]
    public void NormalisesLikeDocker(string input, string full, string familiar)
    {
        var r = Reference.Parse(input);
        Assert.Equal(full, r.ToString());
        Assert.Equal(familiar, r.Familiar);
    }

    [Fact]
    public void DigestReferencesKeepTheDigestAndGetNoTag()
    {
        var hex = new string('a', 64);
        var r = Reference.Parse($"busybox@sha256:{hex}");
        Assert.Null(r.Tag);
        Assert.Equal($"sha256:{hex}", r.Digest.ToString());
        Assert.Equal($"docker.io/library/busybox@sha256:{hex}", r.ToString());
        Assert.Equal($"sha256:{hex}", r.Selector);
    }

    [Fact]
    public void DockerHubTalksToRegistryOne()
    {
        Assert.Equal("registry-1.docker.io", Reference.Parse("busybox").RegistryHost);
        Assert.Equal("quay.io", Reference.Parse("quay.io/x/y").RegistryHost);
    }

    [Theory]
    [InlineData("")]
    [InlineData("Upper/Case")]
    [InlineData("foo:bad tag")]
    [InlineData("foo::x")]
    [InlineData("-leading")]
    [InlineData("a@sha256:abc")]
    public void RejectsInvalidReferences(string input)
    {
        Assert.False(Reference.TryParse(input, out _, out var error));
        Assert.StartsWith("invalid", error);
    }

    [Fact]
    public void RejectsSixtyFourHexAsARepository()
    {
        Assert.False(Reference.TryParse(new string('a', 64), out _, out var error));
        Assert.Contains("cannot specify 64-byte hexadecimal strings", error);
    }

    [Fact]
    public void UppercaseRepositoryErrorSaysLowercase()
    {
        Assert.False(Reference.TryParse("Busybox", out _, out var error));
        Assert.Contains("must be lowercase", error);
    }
}
