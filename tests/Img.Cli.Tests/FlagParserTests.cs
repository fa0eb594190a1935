using Img.Cli.Framework;

namespace Img.Cli.Tests;

public sealed class FlagParserTests
{
    private static readonly Flag[] Flags =
    [
        new("tag", 't', FlagKind.List, "tags"),
        new("file", 'f', FlagKind.String, "file"),
        new("no-cache", null, FlagKind.Bool, "no cache"),
        new("debug", 'd', FlagKind.Bool, "debug"),
        new("quiet", 'q', FlagKind.Bool, "quiet"),
    ];

    [Fact]
    public void LongShortInlineAndSeparateValues()
    {
        var p = FlagParser.Parse(["-t", "a", "--tag=b", "-tc", "--file", "F", ".", "--no-cache"], Flags);
        Assert.Equal(["a", "b", "c"], p.List("tag"));
        Assert.Equal("F", p.String("file"));
        Assert.True(p.Bool("no-cache"));
        Assert.Equal(["."], p.Positionals);
    }

    [Fact]
    public void GroupedShortBooleansAndExplicitFalse()
    {
        var p = FlagParser.Parse(["-dq", "--no-cache=false"], Flags);
        Assert.True(p.Bool("debug"));
        Assert.True(p.Bool("quiet"));
        Assert.False(p.Bool("no-cache"));
    }

    [Fact]
    public void DoubleDashEndsFlags()
    {
        var p = FlagParser.Parse(["--", "-t", "x"], Flags);
        Assert.Equal(["-t", "x"], p.Positionals);
        Assert.Empty(p.List("tag"));
    }

    [Fact]
    public void ErrorsNameTheFlag()
    {
        Assert.Equal("unknown flag: --nope", Assert.Throws<UsageException>(() => FlagParser.Parse(["--nope"], Flags)).Message);
        Assert.Equal("unknown shorthand flag: 'z' in -z", Assert.Throws<UsageException>(() => FlagParser.Parse(["-z"], Flags)).Message);
        Assert.Equal("flag needs an argument: --file", Assert.Throws<UsageException>(() => FlagParser.Parse(["--file"], Flags)).Message);
        Assert.Contains("invalid argument \"maybe\"", Assert.Throws<UsageException>(() => FlagParser.Parse(["--no-cache=maybe"], Flags)).Message);
    }

    [Fact]
    public void HelpAlignsUsageColumnLikePflag()
    {
        var text = HelpWriter.FlagUsages([new("backend", 'b', FlagKind.String, "backend for snapshots", "auto"), new("debug", 'd', FlagKind.Bool, "enable debug logging")]);
        Assert.Equal("  -b, --backend string   backend for snapshots (default \"auto\")\n  -d, --debug            enable debug logging\n", text);
    }
}
