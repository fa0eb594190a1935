using Img.Build;

namespace Img.Build.Tests;

public class OutputSpecTests
{
    [Fact]
    public void TypeIsRequired() =>
        Assert.Equal("--output requires type=<type>", Assert.Throws<OutputSpecException>(() => OutputSpec.Parse("dest=x", false)).Message);

    [Fact]
    public void FieldWithoutEqualsIsInvalid() =>
        Assert.Equal("invalid value foo", Assert.Throws<OutputSpecException>(() => OutputSpec.Parse("type=tar,foo", false)).Message);

    [Fact]
    public void OutputKeyIsRejectedWithAHint() =>
        Assert.Equal("output=x not supported for --output, you meant dest=x?", Assert.Throws<OutputSpecException>(() => OutputSpec.Parse("type=tar,output=x", false)).Message);

    [Fact]
    public void LocalNeedsADirectory() =>
        Assert.Equal("output directory is required for local exporter", Assert.Throws<OutputSpecException>(() => OutputSpec.Parse("type=local", false)).Message);

    [Theory]
    [InlineData("tar")]
    [InlineData("docker")]
    [InlineData("oci")]
    public void ArchivesRefuseAConsole(string type)
    {
        var e = Assert.Throws<OutputSpecException>(() => OutputSpec.Parse($"type={type}", true));
        Assert.Equal($"output file is required for {type} exporter. refusing to write to console", e.Message);
        var s = OutputSpec.Parse($"type={type},dest=-", false);
        Assert.True(s.ToStdout);
        Assert.Null(s.Destination);
    }

    [Fact]
    public void ImageRejectsDest() =>
        Assert.Equal("invalid output option: output: output foo is not supported by image exporter",
            Assert.Throws<OutputSpecException>(() => OutputSpec.Parse("type=image,dest=foo", false)).Message);

    [Fact]
    public void DestinationDirectoryIsRefusedForFiles()
    {
        var dir = Directory.CreateTempSubdirectory().FullName;
        try
        {
            Assert.Equal("destination file is a directory", Assert.Throws<OutputSpecException>(() => OutputSpec.Parse($"type=tar,dest={dir}", false)).Message);
        }
        finally { Directory.Delete(dir); }
    }

    [Fact]
    public void KeysAreLowerCasedAndQuotesAllowed()
    {
        var s = OutputSpec.Parse("TYPE=image,\"Name=foo/bar,baz\",OCI-MediaTypes=true", false);
        Assert.Equal("image", s.Type);
        Assert.Equal("foo/bar,baz", s.Attrs["name"]);
        Assert.True(s.OciMediaTypes);
        Assert.False(s.ToStdout);
    }

    [Fact]
    public void FileDestinationIsMadeAbsoluteAndNotCreatedAtParseTime()
    {
        var s = OutputSpec.Parse("type=docker,dest=out-test-never-created.tar,name=x", false);
        Assert.True(Path.IsPathRooted(s.Destination));
        Assert.False(File.Exists(s.Destination));
        Assert.Equal("x", s.Name);
        Assert.False(s.OciMediaTypes);
        Assert.True(OutputSpec.Parse("type=oci,dest=o.tar", false).OciMediaTypes);
    }

    [Fact]
    public void UnclosedQuoteIsAnError() =>
        Assert.Throws<OutputSpecException>(() => OutputSpec.Parse("type=\"tar", false));
}

public class OutputPushTests
{
    [Fact]
    public void RegistryIsAnImageThatPushes()
    {
        var s = OutputSpec.Parse("type=registry,name=example.com/a:b", false);
        Assert.Equal("image", s.Type);
        Assert.True(s.Push);
        Assert.Equal("example.com/a:b", s.Name);
        Assert.False(s.InsecureRegistry);
        Assert.True(OutputSpec.Parse("type=registry,registry.insecure=true", false).InsecureRegistry);
    }

    [Fact]
    public void ImagePushesOnlyWhenAsked()
    {
        Assert.False(OutputSpec.Parse("type=image,name=x", false).Push);
        Assert.True(OutputSpec.Parse("type=image,name=x,push=true", false).Push);
        Assert.False(OutputSpec.DefaultImage.Push);
        Assert.True(OutputSpec.DefaultImage.WithPush().Push);
        Assert.Equal("x", OutputSpec.Parse("type=image,name=x", false).WithPush().Name);
    }

    [Theory]
    [InlineData("type=local,dest=out", "local")]
    [InlineData("type=tar,dest=x.tar", "tar")]
    [InlineData("type=oci,dest=x.tar", "oci")]
    public void PushNeedsAnImageOutput(string spec, string type) =>
        Assert.Equal($"--push cannot be used with an output of type {type}: use -o type=image or type=registry",
            Assert.Throws<OutputSpecException>(() => OutputSpec.Parse(spec, false).WithPush()).Message);

    [Fact]
    public void RegistryRejectsDest() =>
        Assert.Equal("invalid output option: output: output foo is not supported by image exporter",
            Assert.Throws<OutputSpecException>(() => OutputSpec.Parse("type=registry,dest=foo", false)).Message);
}
