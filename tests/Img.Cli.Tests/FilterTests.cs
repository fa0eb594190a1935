using Img.Cli.Commands;
using Img.Cli.Framework;
using Img.Content;
using Img.Oci;

namespace Img.Cli.Tests;

public sealed class FilterTests
{
    private static readonly ImageRecord Busybox = new("docker.io/library/busybox:latest",
        new Descriptor(MediaTypes.OciIndex, Digest.Compute([1]), 10), DateTimeOffset.UtcNow, DateTimeOffset.UtcNow);

    [Theory]
    [InlineData("name==docker.io/library/busybox:latest", true)]
    [InlineData("name!=docker.io/library/busybox:latest", false)]
    [InlineData("name~=busy", true)]
    [InlineData("name~=^alpine", false)]
    [InlineData("name~=busy,target.mediatype~=index", true)]
    [InlineData("name~=busy,target.mediatype~=manifest", false)]
    [InlineData("name", true)]
    [InlineData("labels.x", false)]
    [InlineData("name==\"docker.io/library/busybox:latest\"", true)]
    public void ImageFilters(string expression, bool matches) =>
        Assert.Equal(matches, ImageFilter.Parse(expression).Matches(Busybox));

    [Fact]
    public void CacheFiltersTreatBareBooleansAsTrue()
    {
        var record = new CacheRecord { Key = "k", Kind = "regular", Description = "mount / from exec ls", Result = "" };
        Assert.True(CacheFilter.Parse("inuse").Matches(record, inUse: true));
        Assert.False(CacheFilter.Parse("inuse").Matches(record, inUse: false));
        Assert.True(CacheFilter.Parse("description~=exec,type==regular").Matches(record, inUse: false));
    }

    [Theory]
    [InlineData("name=busybox")]
    [InlineData("name~=[unclosed")]
    public void MalformedFiltersAreUsageErrors(string expression) =>
        Assert.Throws<UsageException>(() => ImageFilter.Parse(expression));
}
