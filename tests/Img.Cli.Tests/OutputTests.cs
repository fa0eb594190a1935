using Img.Cli.Output;

namespace Img.Cli.Tests;

public sealed class OutputTests
{
    [Theory]
    [InlineData(0, "0B")]
    [InlineData(1023, "1023B")]
    [InlineData(1024, "1KiB")]
    [InlineData(1611, "1.573KiB")]
    [InlineData(4096, "4KiB")]
    [InlineData(1074790, "1.025MiB")]
    [InlineData(1160000000, "1.08GiB")]
    public void BytesSizeMatchesGoUnits(long size, string expected) => Assert.Equal(expected, Units.BytesSize(size));

    [Theory]
    [InlineData(0.5, "Less than a second")]
    [InlineData(1, "1 second")]
    [InlineData(5, "5 seconds")]
    [InlineData(60, "About a minute")]
    [InlineData(150, "2 minutes")]
    [InlineData(3600, "About an hour")]
    [InlineData(7200, "2 hours")]
    [InlineData(3 * 86400, "3 days")]
    [InlineData(20 * 86400, "2 weeks")]
    [InlineData(90 * 86400, "3 months")]
    [InlineData(800 * 86400, "2 years")]
    public void HumanDurationMatchesGoUnits(double seconds, string expected) =>
        Assert.Equal(expected, Units.HumanDuration(TimeSpan.FromSeconds(seconds)));

    [Fact]
    public void TabWriterPadsWithTabsToTabStops()
    {
        // Go: column width = widest cell + 1, rounded up to a multiple of 8; then as many tabs as reach it.
        var t = new TabWriter()
            .Row("NAME", "SIZE", "CREATED AT", "UPDATED AT", "DIGEST")
            .Row("docker.io/library/multi2:latest", "2.297KiB", "Less than a second ago", "Less than a second ago", "sha256:b546")
            .Row("docker.io/library/multi:latest", "1KiB", "5 seconds ago", "5 seconds ago", "sha256:c");
        Assert.Equal(
            "NAME\t\t\t\tSIZE\t\tCREATED AT\t\tUPDATED AT\t\tDIGEST\n" +
            "docker.io/library/multi2:latest\t2.297KiB\tLess than a second ago\tLess than a second ago\tsha256:b546\n" +
            "docker.io/library/multi:latest\t1KiB\t\t5 seconds ago\t\t5 seconds ago\t\tsha256:c\n",
            t.ToString());
    }

    [Fact]
    public void TabWriterTotalsBlockAsObservedAfterPrune()
    {
        var t = new TabWriter().Row("Reclaimable:", "0B").Row("Total:", "0B");
        Assert.Equal("Reclaimable:\t0B\nTotal:\t\t0B\n", t.ToString());
    }
}
