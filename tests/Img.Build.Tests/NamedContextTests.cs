using Img.Build;

namespace Img.Build.Tests;

public class NamedContextTests
{
    [Fact]
    public void ParsesEachKind()
    {
        var dir = Directory.CreateTempSubdirectory().FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "index.json"), "{}");
            Assert.Equal(("files", new NamedContext(NamedContextKind.Directory, dir)), NamedContext.Parse($"Files={dir}"));
            Assert.Equal(("base", new NamedContext(NamedContextKind.Image, "alpine:3.20")), NamedContext.Parse("base=docker-image://alpine:3.20"));
            Assert.Equal(("l", new NamedContext(NamedContextKind.OciLayout, dir, "v2")), NamedContext.Parse($"l=oci-layout://{dir}:v2"));
            Assert.Equal(("l", new NamedContext(NamedContextKind.OciLayout, dir, null)), NamedContext.Parse($"l=oci-layout://{dir}"));
            var digest = "sha256:" + new string('a', 64);
            Assert.Equal(("l", new NamedContext(NamedContextKind.OciLayout, dir, digest)), NamedContext.Parse($"l=oci-layout://{dir}@{digest}"));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Theory]
    [InlineData("noequals", "invalid build context noequals: want NAME=VALUE")]
    [InlineData("x=", "invalid build context x=: want NAME=VALUE")]
    [InlineData("x=/no/such/dir", "invalid build context x=/no/such/dir: directory /no/such/dir not found")]
    [InlineData("x=oci-layout:///no/such", "invalid build context x=oci-layout:///no/such: /no/such is not an OCI layout (no index.json)")]
    [InlineData("x=https://example.com/repo.git", "invalid build context x=https://example.com/repo.git: img reads local directories, docker-image:// and oci-layout:// contexts, not remote ones")]
    [InlineData("x=docker-image://UPPER", "invalid build context x=docker-image://UPPER:")]
    public void RefusesWhatItCannotRead(string value, string message) =>
        Assert.StartsWith(message, Assert.Throws<FormatException>(() => NamedContext.Parse(value)).Message);
}
