namespace Img.Dockerfile.Tests;

/// <summary>Mirrors lex_test.go: TestShellParserMandatoryEnvVars, TestProcessWithMatches, pattern operators, TestGetEnv.</summary>
public class ShellLexTests
{
    private static readonly ShellLex Lex = new('\\');

    private static string Expand(string word, params (string, string)[] env) =>
        Lex.ProcessWord(word, env.ToDictionary(e => e.Item1, e => e.Item2));

    [Theory]
    [InlineData("${VAR:?msg}", "VAR: msg")]
    [InlineData("${VAR?msg}", "VAR: msg")]
    [InlineData("${VAR:?}", "VAR: is not allowed to be unset")]
    [InlineData("${VAR?}", "VAR: is not allowed to be unset")]
    public void TestShellParserMandatoryEnvVars_Unset(string word, string message)
    {
        var ex = Assert.Throws<ShellExpansionException>(() => Expand(word));
        Assert.EndsWith(message, ex.Message);
        Assert.StartsWith("failed to process", ex.Message);
    }

    [Fact]
    public void ExpansionsStopAtTheWordLimit()
    {
        var half = new string('x', ShellLex.MaxWordLength / 2 + 1);
        Assert.Equal(half.Length, Expand("$A", ("A", half)).Length);
        Assert.Contains("longer than", Assert.Throws<ShellExpansionException>(() => Expand("$A$A", ("A", half))).Message);
        Assert.Contains("longer than", Assert.Throws<ShellExpansionException>(() => Expand("\"$A$A\"", ("A", half))).Message);
        // A replacement that multiplies the value stops before the result is built.
        Assert.Contains("longer than", Assert.Throws<ShellExpansionException>(() => Expand("${A//x/yyyyyyyy}", ("A", half))).Message);
        Assert.Equal(half.Replace('x', 'y'), Expand("${A//x/y}", ("A", half)));
    }

    [Fact]
    public void TestShellParserMandatoryEnvVars_Empty()
    {
        var ex = Assert.Throws<ShellExpansionException>(() => Expand("${VAR:?}", ("VAR", "")));
        Assert.EndsWith("VAR: is not allowed to be empty", ex.Message);
        Assert.Equal("", Expand("${VAR?}", ("VAR", "")));
        Assert.Equal("x", Expand("${VAR:?msg}", ("VAR", "x")));
    }

    [Fact]
    public void TestProcessWithMatches()
    {
        var r = Lex.ProcessWordWithMatches("$FOO ${BAR:-x} ${BAZ#a} $UNSET", new Dictionary<string, string> { ["FOO"] = "1", ["BAR"] = "2", ["BAZ"] = "abc" });
        Assert.Equal("1 2 bc ", r.Result);
        Assert.Equal(["BAR", "BAZ", "FOO"], r.Matched.Order());
        Assert.Equal(["UNSET"], r.Unmatched);
    }

    [Theory]
    [InlineData("${v#*/}", "a/b/c")]
    [InlineData("${v##*/}", "c")]
    [InlineData("${v%/*}", "x/a/b")]
    [InlineData("${v%%/*}", "x")]
    [InlineData("${v#x}", "/a/b/c")]
    [InlineData("${v#nomatch}", "x/a/b/c")]
    [InlineData("${v/\\//_}", "x_a/b/c")]
    [InlineData("${v//\\//_}", "x_a_b_c")]
    [InlineData("${v/a?b/Z}", "x/Z/c")]
    [InlineData("${v//[ab]/Q}", "x/Q/Q/c")]
    [InlineData("${v#[!y]}", "/a/b/c")]
    [InlineData("${v%[a-c]}", "x/a/b/")]
    [InlineData("${v/*/all}", "all")]
    [InlineData("${v/q/r}", "x/a/b/c")]
    [InlineData("${v//./+}", "x/a/b/c")]
    public void PatternOperators(string word, string expected) => Assert.Equal(expected, Expand(word, ("v", "x/a/b/c")));

    [Fact]
    public void TestProcessWithMatches_PatternOnUnsetIsEmpty() => Assert.Equal("", Expand("${nope##*/}"));

    [Fact]
    public void PatternOperatorsWithEscapedWildcards()
    {
        Assert.Equal("b", Expand("${v#a\\*}", ("v", "a*b")));
        Assert.Equal("a*b", Expand("${v#a\\?}", ("v", "a*b")));
        Assert.Equal("a", Expand("${v%\\*b}", ("v", "a*b")));
    }

    [Fact]
    public void TestReversePattern_SuffixKeepsBracketsAndUnicode()
    {
        Assert.Equal("한국", Expand("${v%[어]}", ("v", "한국어")));
        Assert.Equal("file", Expand("${v%.t?z}", ("v", "file.tgz")));
    }

    [Fact]
    public void ColonPatternModifiersAreUnsupported()
    {
        var ex = Assert.Throws<ShellExpansionException>(() => Expand("${v:#x}", ("v", "x")));
        Assert.Contains("unsupported modifier (:#) in substitution", ex.Message);
    }

    [Fact]
    public void MissingSlashInReplace()
    {
        var ex = Assert.Throws<ShellExpansionException>(() => Expand("${v/abc", ("v", "x")));
        Assert.Contains("missing '/' in ${}", ex.Message);
    }

    [Fact]
    public void BacktickEscapeToken()
    {
        var lex = new ShellLex('`');
        Assert.Equal("a$b \\c", lex.ProcessWord("a`$b \\c", new Dictionary<string, string>()));
    }

    [Fact]
    public void SkipUnsetEnvKeepsReferences()
    {
        var lex = new ShellLex { SkipUnsetEnv = true };
        Assert.Equal("$A ${B} ${C:-x} 1", lex.ProcessWord("$A ${B} ${C:-x} $D", new Dictionary<string, string> { ["D"] = "1" }));
    }

    [Fact]
    public void TestGetEnv_CaseSensitiveOnLinux() => Assert.Equal("", Expand("$path", ("PATH", "/bin")));

    [Fact]
    public void TestEnvEmptyFormatting() => Assert.Equal("%s %d", Expand("$F", ("F", "%s %d")));

    [Theory]
    [InlineData("${FOO#[z-a]}")]
    [InlineData("${FOO%%[z-a]}")]
    [InlineData("${FOO/[z-a]/x}")]
    public void ReversedBracketRangeIsAnExpansionError(string word)
    {
        // Found by tools/fuzz-dockerfile: the regex engine's parse error escaped as RegexParseException.
        var ex = Assert.Throws<ShellExpansionException>(() => Expand(word, ("FOO", "abc")));
        Assert.Contains("invalid pattern", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LongLiteralPatternExpandsCorrectly()
    {
        // Found by tools/fuzz-dockerfile: "${V##<60,000 x #>}" stalled for seconds building the regex.
        var hashes = new string('#', 60_000);
        Assert.Equal("x", Expand("${V##" + hashes + "}", ("V", hashes + "x")));
        Assert.Equal("y", Expand("${V%%" + hashes + "}", ("V", "y" + hashes)));
        Assert.Equal("a-b", Expand("${V/" + new string('+', 300) + "/-}", ("V", "a" + new string('+', 300) + "b")));
    }
}
