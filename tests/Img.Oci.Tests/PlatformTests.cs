using Img.Oci;

namespace Img.Oci.Tests;

public sealed class PlatformTests
{
    [Theory]
    [InlineData("linux/amd64", "linux/amd64")]
    [InlineData("amd64", "linux/amd64")]
    [InlineData("linux/x86_64", "linux/amd64")]
    [InlineData("linux/aarch64", "linux/arm64")]
    [InlineData("linux/arm64/v8", "linux/arm64")]
    [InlineData("linux/arm", "linux/arm/v7")]
    [InlineData("linux/armhf", "linux/arm/v7")]
    [InlineData("linux/arm/v6", "linux/arm/v6")]
    [InlineData("Linux/AMD64", "linux/amd64")]
    [InlineData("linux/i386", "linux/386")]
    public void ParsesAndNormalises(string input, string expected) =>
        Assert.Equal(expected, Platform.Parse(input).ToString());

    [Fact]
    public void MatchingPrefersTheExactVariant()
    {
        var host = Platform.Parse("linux/arm/v7");
        var v7 = Platform.Parse("linux/arm/v7");
        var v6 = Platform.Parse("linux/arm/v6");
        Assert.True(host.Matches(v7));
        Assert.True(host.Matches(v6));
        Assert.False(Platform.Parse("linux/arm/v6").Matches(v7));
        Assert.True(host.Rank(v7) < host.Rank(v6));
        Assert.False(Platform.Parse("linux/amd64").Matches(Platform.Parse("linux/arm64")));
        Assert.False(Platform.Parse("linux/amd64").Matches(Platform.Parse("windows/amd64")));
    }

    [Theory]
    [InlineData("")]
    [InlineData("linux/amd64/v2/extra")]
    [InlineData("linux//amd64")]
    public void RejectsBadSpecifiers(string s) => Assert.Throws<FormatException>(() => Platform.Parse(s));
}
