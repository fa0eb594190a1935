using Img.Build;

namespace Img.Build.Tests;

public class SessionSpecsTests
{
    [Fact]
    public void SecretsMapIdToFile()
    {
        var s = SessionSpecs.ParseSecrets(["id=a,src=/dev/null", "id=b,source=/etc/hostname,type=file", "src=/etc/passwd"]);
        Assert.Equal("/dev/null", s["a"]);
        Assert.Equal("/etc/hostname", s["b"]);
        Assert.Equal("/etc/passwd", s["passwd"]);
    }

    [Theory]
    [InlineData("id=a,src=/x,type=env", "could not parse secrets: unsupported secret type \"env\"")]
    [InlineData("id=a,x=y", "could not parse secrets: unexpected key 'x' in 'x=y'")]
    [InlineData("id=a,foo", "could not parse secrets: invalid field 'foo' must be a key=value pair")]
    public void SecretErrorsAreTheOriginals(string spec, string message) =>
        Assert.Equal(message, Assert.Throws<ArgumentException>(() => SessionSpecs.ParseSecrets([spec])).Message);

    [Fact]
    public void SshDefaultNeedsTheAgentSocket()
    {
        Assert.Equal("invalid empty ssh agent socket, make sure SSH_AUTH_SOCK is set",
            Assert.Throws<ArgumentException>(() => SessionSpecs.ParseSsh(["default"], null)).Message);
        Assert.Equal("/run/agent.sock", SessionSpecs.ParseSsh(["default"], "/run/agent.sock")["default"]);
        Assert.Throws<ArgumentException>(() => SessionSpecs.ParseSsh(["default", "default"], "/run/agent.sock"));
    }

    [Fact]
    public void SshKeyFilesAreRefusedPlainly()
    {
        var e = Assert.Throws<ArgumentException>(() => SessionSpecs.ParseSsh(["key=/etc/hostname"], null));
        Assert.Contains("not an agent socket", e.Message);
    }
}
