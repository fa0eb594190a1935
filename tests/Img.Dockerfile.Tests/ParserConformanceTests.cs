namespace Img.Dockerfile.Tests;

/// <summary>BuildKit parser_test.go: TestParseCases, TestParseErrorCases, TestParseIncludesLineNumbers over the shared corpus.</summary>
public class ParserConformanceTests
{
    public static TheoryData<string> PositiveCases()
    {
        var data = new TheoryData<string>();
        foreach (var dir in Directory.GetDirectories(Path.Combine(Corpus.Parser, "testfiles")).Order(StringComparer.Ordinal))
            data.Add(Path.GetFileName(dir));
        return data;
    }

    public static TheoryData<string> NegativeCases()
    {
        var data = new TheoryData<string>();
        foreach (var dir in Directory.GetDirectories(Path.Combine(Corpus.Parser, "testfiles-negative")).Order(StringComparer.Ordinal))
            data.Add(Path.GetFileName(dir));
        return data;
    }

    [Theory]
    [MemberData(nameof(PositiveCases))]
    public void TestParseCases(string name)
    {
        var dir = Path.Combine(Corpus.Parser, "testfiles", name);
        var result = Parser.Parse(Corpus.Read(Path.Combine(dir, "Dockerfile")));
        var expected = Corpus.Read(Path.Combine(dir, "result"));
        Assert.Equal(expected, result.Dump());
    }

    [Theory]
    [MemberData(nameof(NegativeCases))]
    public void TestParseErrorCases(string name)
    {
        var text = Corpus.Read(Path.Combine(Corpus.Parser, "testfiles-negative", name, "Dockerfile"));
        Assert.ThrowsAny<DockerfileException>(() =>
        {
            var result = Parser.Parse(text);
            // Some negative cases are only rejected by the instruction parser (ENV without value).
            foreach (var child in result.Ast.Children)
                Instructions.Parse(child);
        });
    }

    [Fact]
    public void TestParseIncludesLineNumbers()
    {
        var result = Parser.Parse(Corpus.Read(Path.Combine(Corpus.Parser, "testfile-line", "Dockerfile")));
        Assert.Equal(5, result.Ast.StartLine);
        Assert.Equal(31, result.Ast.EndLine);
        Assert.Equal([(5, 5), (11, 12), (17, 31)], result.Ast.Children.Select(c => (c.StartLine, c.EndLine)));
    }
}
