namespace Img.Dockerfile.Tests;

/// <summary>Mirrors parser_test.go, directives_test.go, json_test.go, line_parsers_test.go and parser_heredoc_test.go.</summary>
public class ParserTests
{
    private static Node Single(string dockerfile) => Parser.Parse(dockerfile).Ast.Children.Single();

    [Fact]
    public void TestParseWords()
    {
        var node = Single("ENV foo=\"bar baz\" qux=a\\ b uni=日本\n");
        Assert.Equal(["foo", "\"bar baz\"", "=", "qux", "a\\ b", "=", "uni", "日本", "="], node.ArgumentValues());
    }

    [Fact]
    public void TestParseWarnsOnEmptyContinutationLine()
    {
        var result = Parser.Parse("FROM a\nRUN something \\\n\n  following \\\n\n  ending\nRUN x \\\n# comment\n  y\n");
        var warning = Assert.Single(result.Warnings);
        Assert.Contains("Empty continuation line", warning.Short);
        Assert.Equal("run \"something   following   ending\"", result.Ast.Children[1].Dump());
        Assert.Equal("run \"x   y\"", result.Ast.Children[2].Dump());
    }

    [Fact]
    public void TestParseReturnsScannerErrors()
    {
        var ex = Assert.Throws<DockerfileException>(() => Parser.Parse("FROM a\nLABEL x=" + new string('a', Parser.MaxLineBytes) + "\n"));
        Assert.Contains("dockerfile line greater than max allowed size of 65535", ex.Message);
    }

    [Fact]
    public void TestParseDirective_EscapeCaseInsensitiveKey()
    {
        var result = Parser.Parse("# ESCAPE=`\nFROM a\nRUN echo `\n  hi\n");
        Assert.Equal('`', result.EscapeToken);
        Assert.Equal("run \"echo   hi\"", result.Ast.Children[1].Dump());
    }

    [Fact]
    public void TestDirectives_DuplicateRejectedWithLine()
    {
        var ex = Assert.Throws<DockerfileException>(() => Parser.Parse("# escape=\\\n# escape=`\nFROM a\n"));
        Assert.Equal("only one escape parser directive can be used", ex.Detail);
        Assert.Equal(2, ex.Line);
    }

    [Fact]
    public void TestDirectives_InvalidEscape()
    {
        var ex = Assert.Throws<DockerfileException>(() => Parser.Parse("# escape=x\nFROM a\n"));
        Assert.Contains("invalid escape token 'x'", ex.Message);
    }

    [Fact]
    public void TestDirectives_OnlyAtTop()
    {
        var result = Parser.Parse("FROM a\n# escape=`\nRUN x \\\n y\n");
        Assert.Equal('\\', result.EscapeToken);
        Assert.Empty(result.Directives);
        var afterComment = Parser.Parse("# hello\n# syntax=foo\nFROM a\n");
        Assert.Null(afterComment.Syntax);
    }

    [Fact]
    public void TestDirectives_SyntaxAndCheck()
    {
        var result = Parser.Parse("# syntax=docker/dockerfile:1.7\n# check=skip=all\nFROM a\n");
        Assert.Equal("docker/dockerfile:1.7", result.Syntax);
        Assert.Equal(["syntax", "check"], result.Directives.Select(d => d.Name));
        Assert.Equal([1, 2], result.Directives.Select(d => d.Line));
    }

    [Fact]
    public void TestDetectSyntax()
    {
        Assert.Equal("dockerfile:experimental", DirectiveParser.DetectSyntax("# syntax = dockerfile:experimental // opts\nFROM a\n"));
        Assert.Equal("x/y", DirectiveParser.DetectSyntax("#!/usr/bin/env docker-build\n# syntax=x/y\nFROM a\n"));
        Assert.Equal("x/y", DirectiveParser.DetectSyntax("// syntax=x/y\n"));
        Assert.Equal("x/json", DirectiveParser.DetectSyntax("{\"syntax\": \"x/json\"}"));
        Assert.Null(DirectiveParser.DetectSyntax("FROM a\n# syntax=x\n"));
    }

    [Fact]
    public void TestDetectSyntaxBOM()
    {
        Assert.Equal("x/y", DirectiveParser.DetectSyntax("\uFEFF# syntax=x/y\nFROM a\n"));
        var result = Parser.Parse("\uFEFF# syntax=x/y\nFROM a\n");
        Assert.Equal("x/y", result.Syntax);
    }

    [Theory]
    [InlineData("CMD [\"a\", \"b\"]", true, "(cmd \"a\" \"b\")")]
    [InlineData("CMD [\"a\", \"b\"]trailing", false, "(cmd \"[\\\"a\\\", \\\"b\\\"]trailing\")")]
    [InlineData("CMD ['a']", false, "(cmd \"['a']\")")]
    [InlineData("CMD [\"a\", \"\\u00e9\"]", true, "(cmd \"a\" \"é\")")]
    public void TestJSONArraysOfStrings(string line, bool json, string dump)
    {
        var node = Single(line);
        Assert.Equal(json, node.IsJson);
        Assert.Equal(dump, "(" + node.Dump() + ")");
    }

    [Fact]
    public void TestJSONArraysOfStrings_NonStringRejected()
    {
        var ex = Assert.Throws<DockerfileException>(() => Parser.Parse("CMD [\"a\", 1]\n"));
        Assert.Equal(1, ex.Line);
    }

    [Fact]
    public void TestParseNameValOldFormat()
    {
        Assert.Equal(["foo", "bar baz", ""], Single("ENV foo bar baz").ArgumentValues());
    }

    [Fact]
    public void TestParseNameValNewFormat()
    {
        Assert.Equal(["foo", "bar", "=", "baz", "\"q x\"", "="], Single("ENV foo=bar baz=\"q x\"").ArgumentValues());
        Assert.Throws<DockerfileException>(() => Parser.Parse("ENV foo=bar baz\n"));
    }

    [Fact]
    public void TestParseNameValWithoutVal()
    {
        Assert.Equal(["foo", "bar=", "baz=1"], Single("ARG foo bar= baz=1").ArgumentValues());
        Assert.Throws<DockerfileException>(() => Parser.Parse("ENV foo\n"));
    }

    [Fact]
    public void TestParseExtractsHeredoc()
    {
        var result = Parser.Parse("FROM a\nRUN <<EOF\necho hi\n  $X\nEOF\nCOPY <<A <<\"B\" /dest/\na-body\nA\nb-body\nB\nRUN echo done\n");
        var run = result.Ast.Children[1];
        var doc = Assert.Single(run.Heredocs);
        Assert.Equal(new Heredoc("EOF", 0, true, false, "echo hi\n  $X\n"), doc);
        Assert.Equal((2, 5), (run.StartLine, run.EndLine));
        var copy = result.Ast.Children[2];
        Assert.Equal(["A", "B"], copy.Heredocs.Select(h => h.Name));
        Assert.Equal([true, false], copy.Heredocs.Select(h => h.Expand));
        Assert.Equal(["a-body\n", "b-body\n"], copy.Heredocs.Select(h => h.Content));
        Assert.Equal((6, 10), (copy.StartLine, copy.EndLine));
        Assert.Equal(11, result.Ast.Children[3].StartLine);
    }

    [Fact]
    public void TestParseJSONHeredoc()
    {
        // Heredocs are not recognised in JSON form.
        var result = Parser.Parse("FROM a\nRUN [\"cat\", \"<<EOF\"]\nFROM b\n");
        Assert.Empty(result.Ast.Children[1].Heredocs);
        Assert.Equal(3, result.Ast.Children.Count);
    }

    [Fact]
    public void TestHeredocChomp()
    {
        var node = Parser.Parse("FROM a\nRUN <<-EOF\n\techo hi\n\t\tindented\n\tEOF\n").Ast.Children[1];
        var doc = Assert.Single(node.Heredocs);
        Assert.True(doc.Chomp);
        Assert.Equal("\techo hi\n\t\tindented\n", doc.Content);
        Assert.Equal("echo hi\nindented\n", doc.EffectiveContent);
    }

    [Theory]
    [InlineData("<<EOF", "EOF", true, false, 0u)]
    [InlineData("<<-EOF", "EOF", true, true, 0u)]
    [InlineData("<<'EOF'", "EOF", false, false, 0u)]
    [InlineData("<<\"EOF\"", "EOF", false, false, 0u)]
    [InlineData("<<E\"O\"F", "EOF", false, false, 0u)]
    [InlineData("3<<IN", "IN", true, false, 3u)]
    public void TestParseHeredocHelpers(string word, string name, bool expand, bool chomp, uint fd)
    {
        var doc = HeredocSyntax.Parse(word);
        Assert.NotNull(doc);
        Assert.Equal((name, expand, chomp, fd), (doc.Name, doc.Expand, doc.Chomp, doc.FileDescriptor));
    }

    [Theory]
    [InlineData("<<")]
    [InlineData("<<<EOF")]
    [InlineData("EOF")]
    [InlineData("<<EOF EOF2")]
    public void TestParseHeredocHelpers_NotHeredoc(string word) => Assert.Null(HeredocSyntax.Parse(word));

    [Fact]
    public void TestHeredocsFromLine()
    {
        var docs = HeredocSyntax.FromLine("RUN cat <<A 3<<-'B' > out; echo '<<C'");
        Assert.Equal(["A", "B"], docs.Select(d => d.Name));
        Assert.Equal([0u, 3u], docs.Select(d => d.FileDescriptor));
    }

    [Fact]
    public void UnterminatedHeredocNamesTheInstruction()
    {
        var ex = Assert.Throws<DockerfileException>(() => Parser.Parse("FROM a\nRUN <<EOF\necho\n"));
        Assert.Equal("unterminated heredoc", ex.Detail);
        Assert.Equal(2, ex.Line);
    }

    [Fact]
    public void TestCommentsDetection()
    {
        var result = Parser.Parse("# about the base\nFROM a\n\n# first\n# second\nARG x\n#\nRUN y\n");
        Assert.Equal(["about the base"], result.Ast.Children[0].PrevComment);
        Assert.Equal(["first", "second"], result.Ast.Children[1].PrevComment);
        Assert.Empty(result.Ast.Children[2].PrevComment);
    }

    [Fact]
    public void OriginalTextAndFlagsAreKept()
    {
        var node = Single("copy --from=build --chmod=0644 a \\\n  b /c/");
        Assert.Equal("copy", node.Value);
        Assert.Equal(["--from=build", "--chmod=0644"], node.Flags);
        Assert.Equal("copy --from=build --chmod=0644 a   b /c/", node.Original);
    }

    [Fact]
    public void CrLfLineEndingsAreAccepted()
    {
        var result = Parser.Parse("FROM a\r\nRUN x \\\r\n  y\r\n");
        Assert.Equal("(from \"a\")\n(run \"x   y\")\n", result.Dump());
    }

    [Fact]
    public void EmptyFileFailsWithNoInstructions()
    {
        var ex = Assert.Throws<DockerfileException>(() => Parser.Parse("# only\n\n"));
        Assert.Equal("file with no instructions", ex.Detail);
    }

    [Fact]
    public void JsonFormWithLoneSurrogateFallsBackToShellForm()
    {
        // Found by tools/fuzz-dockerfile: System.Text.Json refused to transcode the lone surrogate with ArgumentException.
        var node = Parser.Parse("CMD [\"echo\", \"a\ud800\"]\n").Ast.Children[0];
        Assert.False(node.IsJson);
        Assert.Equal("[\"echo\", \"a\ud800\"]", node.Next!.Value);
    }
}
