using Img.Build;

namespace Img.Build.Tests;

public class SessionSpecsTests
{
    [Fact]
    public void SecretsMapIdToFile()
    {
        var s = SessionSpecs.ParseSecrets(["id=a,src=/dev/null", "id=b,source=/etc/hostname,type=file", "src=/etc/passwd"], _ => null);
        Assert.Equal(SecretSource.FromFile("/dev/null"), s["a"]);
        Assert.Equal(SecretSource.FromFile("/etc/hostname"), s["b"]);
        Assert.Equal(SecretSource.FromFile("/etc/passwd"), s["passwd"]);
    }

    private static readonly Dictionary<string, string> s_env = new() { ["TOKEN"] = "t", ["GH"] = "g", ["other"] = "o" };

    [Theory]
    [InlineData("id=a,env=TOKEN", "a", "TOKEN")]          // buildx's env=
    [InlineData("type=env,id=a,src=TOKEN", "a", "TOKEN")] // type=env reads src as the variable
    [InlineData("type=env,id=TOKEN", "TOKEN", "TOKEN")]   // ... or the id
    [InlineData("id=GH", "GH", "GH")]                     // only an id: its variable when set
    [InlineData("env=TOKEN", "TOKEN", "TOKEN")]           // the id defaults to the variable
    public void SecretsFromTheEnvironment(string spec, string id, string variable) =>
        Assert.Equal(SecretSource.FromEnvironment(variable), SessionSpecs.ParseSecrets([spec], s_env.GetValueOrDefault)[id]);

    [Fact]
    public void AnIdWithoutItsVariableIsAFileOfThatName() =>
        Assert.Equal(SecretSource.FromFile(Path.GetFullPath("cred")), SessionSpecs.ParseSecrets(["id=cred"], s_env.GetValueOrDefault)["cred"]);

    [Theory]
    [InlineData("id=a,src=/x,type=ssh", "could not parse secrets: unsupported secret type \"ssh\"")]
    [InlineData("id=a,x=y", "could not parse secrets: unexpected key 'x' in 'x=y'")]
    [InlineData("id=a,foo", "could not parse secrets: invalid field 'foo' must be a key=value pair")]
    [InlineData("id=a,env=UNSET", "could not parse secrets: secret a: environment variable UNSET is not set")]
    [InlineData("id=a,env=TOKEN,src=/x", "could not parse secrets: secret a names both a file and a variable")]
    public void SecretErrorsAreTheOriginals(string spec, string message) =>
        Assert.Equal(message, Assert.Throws<ArgumentException>(() => SessionSpecs.ParseSecrets([spec], s_env.GetValueOrDefault)).Message);

    [Fact]
    public void EnvironmentSecretsAreReadableMemoryFiles()
    {
        var sources = SessionSpecs.ParseSecrets(["id=a,env=TOKEN", "id=f,src=/etc/hostname"], s_env.GetValueOrDefault);
        using var files = SecretFiles.Open(sources, s_env.GetValueOrDefault);
        var path = files.Paths["a"];
        Assert.StartsWith("/proc/self/fd/", path);
        Assert.Equal("t", File.ReadAllText(path));
        Assert.Equal("t", File.ReadAllText(path)); // each open starts at the beginning
        Assert.Equal("/etc/hostname", files.Paths["f"]);
    }

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
