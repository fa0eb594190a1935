using Img.Build;

namespace Img.Build.Tests;

public class CacheKeyTests
{
    [Fact]
    public void KeysAreStableAndDependOnEveryPart()
    {
        var k = BuildCache.Key("parent", "RUN", "echo hi");
        Assert.Equal(k, BuildCache.Key("parent", "RUN", "echo hi"));
        Assert.Equal(64, k.Length);
        Assert.NotEqual(k, BuildCache.Key("parent2", "RUN", "echo hi"));
        Assert.NotEqual(k, BuildCache.Key("parent", "RUN", "echo ho"));
    }

    [Fact]
    public void PartBoundariesMatter() =>
        Assert.NotEqual(BuildCache.Key("ab", "c"), BuildCache.Key("a", "bc"));

    [Fact]
    public void OutcomesRoundTrip()
    {
        var o = new StepOutcome { Layer = "sha256:" + new string('a', 64), MediaType = "m", Size = 12, DiffId = "sha256:" + new string('b', 64) };
        Assert.Equal(o, BuildCache.Deserialize(BuildCache.Serialize(o)));
        Assert.Null(BuildCache.Deserialize("not json"));
        Assert.Null(BuildCache.Deserialize(BuildCache.Serialize(new StepOutcome()))?.Layer);
    }
}
