namespace Img.Dockerfile.Tests;

/// <summary>Mirrors dockerfile_dockerignore_test.go and moby/patternmatcher's matching rules.</summary>
public class DockerIgnoreTests
{
    [Fact]
    public void TestDockerignore()
    {
        var ignore = DockerIgnore.Parse("ba*\nDockerfile\n!bay\n.dockerignore\n");
        Assert.True(ignore.IsExcluded("bar"));
        Assert.True(ignore.IsExcluded("baz"));
        Assert.False(ignore.IsExcluded("bay"));
        Assert.False(ignore.IsExcluded("foo"));
        Assert.True(ignore.IsExcluded("Dockerfile"));
        Assert.True(ignore.IsExcluded(".dockerignore"));
    }

    [Fact]
    public void TestDockerignoreInvalid()
    {
        var ex = Assert.Throws<DockerfileException>(() => DockerIgnore.Parse("!\n"));
        Assert.Equal("illegal exclusion pattern: \"!\"", ex.Message);
    }

    [Fact]
    public void ReadAllNormalisesPatterns()
    {
        Assert.Equal(["a", "b/c", "!d", "e", "../f", "g"],
            DockerIgnore.ReadPatterns("\uFEFF# comment\n/a\n  ./b//c/ \n\n! /d\ne/.\n../f\r\n#x\ng\n"));
    }

    [Theory]
    [InlineData("**/*.go", "a/b/c.go", true)]
    [InlineData("**/*.go", "c.go", true)]
    [InlineData("**", "anything/at/all", true)]
    [InlineData("dir/**", "dir/x/y", true)]
    [InlineData("dir/**", "dirx/y", false)]
    [InlineData("*.md", "docs/readme.md", false)]
    [InlineData("*/*.md", "docs/readme.md", true)]
    [InlineData("a?c", "abc", true)]
    [InlineData("a?c", "a/c", false)]
    [InlineData("[a-c]x", "bx", true)]
    [InlineData("[a-c]x", "dx", false)]
    [InlineData("a\\*b", "a*b", true)]
    [InlineData("a\\*b", "axb", false)]
    [InlineData("node_modules", "node_modules/pkg/index.js", true)]
    [InlineData("foo/bar", "foo/bar/baz", true)]
    [InlineData("foo/bar", "foo/barbaz", false)]
    [InlineData("a.b", "aXb", false)]
    [InlineData("**/tmp/**", "x/tmp/y", true)]
    public void MatchesOrParentMatches(string pattern, string path, bool excluded) =>
        Assert.Equal(excluded, DockerIgnore.Parse(pattern).IsExcluded(path));

    [Fact]
    public void LastMatchWinsAndParentDirs()
    {
        var ignore = DockerIgnore.Parse("docs\n!docs/keep.md\n*.tmp\n!important.tmp\nimportant.tmp\n");
        Assert.True(ignore.IsExcluded("docs/a.md"));
        Assert.False(ignore.IsExcluded("docs/keep.md"));
        Assert.True(ignore.IsExcluded("important.tmp"));
        Assert.True(ignore.IsExcluded("./x.tmp"));
        Assert.True(ignore.IsExcluded("/x.tmp"));
    }

    [Fact]
    public void CanSkipDir()
    {
        var ignore = DockerIgnore.Parse("node_modules\nbuild\n!build/keep\nvendor/*\n!**/LICENSE\n");
        Assert.False(ignore.CanSkipDir("node_modules")); // "!**/LICENSE" could re-include below
        var plain = DockerIgnore.Parse("node_modules\nbuild\n!build/keep\n");
        Assert.True(plain.CanSkipDir("node_modules"));
        Assert.True(plain.CanSkipDir("node_modules/sub"));
        Assert.False(plain.CanSkipDir("build"));
        Assert.False(plain.CanSkipDir("src"));
        Assert.False(plain.IsExcluded("build/keep/file"));
        Assert.True(plain.IsExcluded("build/other"));
    }

    [Fact]
    public void TestDockerignoreOverride()
    {
        var dir = Directory.CreateTempSubdirectory("img-dockerignore-");
        try
        {
            Assert.Null(DockerIgnore.Locate(dir.FullName, "Dockerfile"));
            File.WriteAllText(Path.Combine(dir.FullName, ".dockerignore"), "a\n");
            Assert.Equal(Path.Combine(dir.FullName, ".dockerignore"), DockerIgnore.Locate(dir.FullName, "Dockerfile"));
            Directory.CreateDirectory(Path.Combine(dir.FullName, "sub"));
            var specific = Path.Combine(dir.FullName, "sub", "app.Dockerfile.dockerignore");
            File.WriteAllText(specific, "b\n");
            Assert.Equal(specific, DockerIgnore.Locate(dir.FullName, "sub/app.Dockerfile"));
            Assert.Equal(Path.Combine(dir.FullName, ".dockerignore"), DockerIgnore.Locate(dir.FullName, "sub/other.Dockerfile"));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void PathCleanLikeGo()
    {
        Assert.Equal(".", PathClean.Clean(""));
        Assert.Equal("a/c", PathClean.Clean("a/b/../c/."));
        Assert.Equal("/", PathClean.Clean("/.."));
        Assert.Equal("../a", PathClean.Clean("../a/"));
    }

    [Fact]
    public void MatchingManyPathsExcludesExactlyTheLogFiles()
    {
        // Correctness only: speed over large trees is measured by bench/dockerignore.
        var ignore = DockerIgnore.Parse("**/*.log\nnode_modules\n!node_modules/keep\nbuild/**\n*.tmp\ndocs/*/draft-*\n");
        var paths = Enumerable.Range(0, 2_000).Select(i => $"dir{i % 50}/sub{i % 7}/file{i}.{(i % 3 == 0 ? "log" : "cs")}").ToList();
        var excluded = paths.Where(ignore.IsExcluded).ToList();
        Assert.Equal(paths.Where(p => p.EndsWith(".log", StringComparison.Ordinal)), excluded);
    }

    [Fact]
    public void OverLongPatternIsRejectedInsteadOfStallingRegexConstruction()
    {
        // Found by tools/fuzz-dockerfile: a 63,000-character line of escaped literals took seconds to compile.
        var e = Assert.Throws<DockerfileException>(() => DockerIgnore.Parse("a*" + new string('+', 63_000)));
        Assert.Contains("limit is 4096", e.Message, StringComparison.Ordinal);

        var longest = "a*" + new string('+', PatternMatcher.MaxPatternLength - 2);
        var ignore = DockerIgnore.Parse(longest);
        Assert.True(ignore.IsExcluded("ab" + new string('+', PatternMatcher.MaxPatternLength - 2)));
        Assert.False(ignore.IsExcluded("ab+"));
    }
}
