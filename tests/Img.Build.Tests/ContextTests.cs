using Img.Build;
using Img.Dockerfile;

namespace Img.Build.Tests;

public sealed class ContextTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("img-build-ctx-").FullName;
    private readonly string _state = Directory.CreateTempSubdirectory("img-build-state-").FullName;

    public void Dispose()
    {
        Directory.Delete(_dir, true);
        Directory.Delete(_state, true);
    }

    private void Write(string rel, string text)
    {
        var p = Path.Combine(_dir, rel);
        Directory.CreateDirectory(Path.GetDirectoryName(p)!);
        File.WriteAllText(p, text);
    }

    private BuildContext Open(string ignore = "") =>
        new(_dir, DockerIgnore.Parse(ignore), StatCache.Load(Path.Combine(_state, "stats")));

    [Fact]
    public void WildcardsMatchComponentByComponent()
    {
        Write("foo1.txt", "1");
        Write("foo2.txt", "2");
        Write("bar.txt", "b");
        Write("sub/a/dir2/foo", "x");
        Write("sub/b/dir2/foo", "y");
        var ctx = Open();
        Assert.Equal(["foo1.txt", "foo2.txt"], ctx.Match("foo*"));
        Assert.Equal(["sub/a/dir2/foo", "sub/b/dir2/foo"], ctx.Match("sub/*/dir2/foo"));
        Assert.Equal(["foo1.txt"], ctx.Match("./foo?.txt").Take(1));
        Assert.Equal(["bar.txt"], ctx.Match("/bar.txt"));
        Assert.Empty(ctx.Match("nothing*"));
        Assert.Equal(["foo1.txt"], ctx.Match("foo[1].txt"));
    }

    [Fact]
    public void IgnoredFilesAreInvisible()
    {
        Write("keep.txt", "k");
        Write("secret.key", "s");
        var ctx = Open("*.key\n");
        Assert.Empty(ctx.Match("secret.key"));
        Assert.Equal(["keep.txt"], ctx.Match("*"));
    }

    [Fact]
    public void AnExcludedDirectoryHoldingAReincludedPathStaysVisible()
    {
        Write("conf/keep.txt", "k");
        Write("conf/drop.txt", "d");
        Write("conf/deep/keep.txt", "k");
        Write("logs/a.log", "l");
        var ctx = Open("conf\n!conf/keep.txt\nlogs\n!**/keep.txt\n");
        // The context BuildKit receives holds the parents of every re-included path, so they are sources.
        Assert.Equal(["conf"], ctx.Match("conf"));
        Assert.Equal(["conf/deep"], ctx.Match("conf/deep"));
        Assert.False(ctx.IsExcluded("conf/keep.txt"));
        Assert.True(ctx.IsExcluded("conf/drop.txt"));
        // An excluded directory with nothing re-included below stays hidden.
        Assert.Empty(ctx.Match("logs"));
    }

    [Fact]
    public void CopyParentsPivotIsThePartBeforeTheFirstDotComponent()
    {
        Assert.Equal("a", SourcePattern.ParentsPivot("./a/./b/c.txt"));
        Assert.Equal("x/y", SourcePattern.ParentsPivot("./x/y/./*.txt"));
        Assert.Equal("", SourcePattern.ParentsPivot("a/b/c.txt"));
        Assert.Equal("", SourcePattern.ParentsPivot("/./b"));
    }

    [Fact]
    public async Task UnrelatedChangesDoNotChangeTheDigestOfWhatACopyReads()
    {
        Write("foo1", "1");
        Write("other", "o");
        var ctx = Open();
        var before = await ctx.DigestAsync(ctx.Match("foo*"), default);
        Write("other", "changed");
        Write("new-unrelated", "n");
        Assert.Equal(before, await Open().DigestAsync(Open().Match("foo*"), default));
        Write("foo1", "2");
        Assert.NotEqual(before, await Open().DigestAsync(Open().Match("foo*"), default));
    }

    [Fact]
    public async Task RenamingAMatchedFileChangesTheDigest()
    {
        Write("file1", "same");
        var ctx = Open();
        var before = await ctx.DigestAsync(ctx.Match("file*"), default);
        File.Move(Path.Combine(_dir, "file1"), Path.Combine(_dir, "file2"));
        Assert.NotEqual(before, await Open().DigestAsync(Open().Match("file*"), default));
    }

    [Fact]
    public async Task DirectoryDigestsSkipIgnoredEntries()
    {
        Write("d/a", "a");
        Write("d/b.log", "b");
        var ctx = Open("**/*.log\n");
        var before = await ctx.DigestAsync(["d"], default);
        Write("d/b.log", "changed");
        Assert.Equal(before, await Open("**/*.log\n").DigestAsync(["d"], default));
    }

    [Fact]
    public async Task StatCacheAvoidsReadingUnchangedFiles()
    {
        for (int i = 0; i < 50; i++) Write($"f{i}", "content " + i);
        var file = Path.Combine(_state, "stats");
        var first = StatCache.Load(file);
        var ctx = new BuildContext(_dir, DockerIgnore.Empty, first);
        var d1 = await ctx.DigestAsync([""], default);
        Assert.Equal(50, first.Hashed);
        first.Save();

        var second = StatCache.Load(file);
        var d2 = await new BuildContext(_dir, DockerIgnore.Empty, second).DigestAsync([""], default);
        Assert.Equal(d1, d2);
        Assert.Equal(0, second.Hashed);

        Write("f3", "changed!");
        var third = StatCache.Load(file);
        Assert.NotEqual(d1, await new BuildContext(_dir, DockerIgnore.Empty, third).DigestAsync([""], default));
        Assert.Equal(1, third.Hashed);
    }

    [Fact]
    public async Task AContextOfManyFilesHashedInParallelBatchesDigestsInWalkOrder()
    {
        // 700 files over 7 directories: three batches, files hashed on every core, lines joined in walk order.
        for (int i = 0; i < 700; i++) Write($"d{i / 100}/f{i % 100:D3}", "content " + i);
        File.CreateSymbolicLink(Path.Combine(_dir, "d6/link"), "f001");
        var d1 = await Open().DigestAsync([""], default);
        Assert.Equal(d1, await Open().DigestAsync([""], default));
        // The same context read through a warm stat cache (no file read again) digests the same.
        var file = Path.Combine(_state, "warm");
        var warm = StatCache.Load(file);
        Assert.Equal(d1, await new BuildContext(_dir, DockerIgnore.Empty, warm).DigestAsync([""], default));
        warm.Save();
        Assert.Equal(d1, await new BuildContext(_dir, DockerIgnore.Empty, StatCache.Load(file)).DigestAsync([""], default));

        // Swapping two files' contents keeps the multiset of file digests: only walk order tells them apart.
        File.Move(Path.Combine(_dir, "d5/f010"), Path.Combine(_dir, "swap"));
        File.Move(Path.Combine(_dir, "d5/f020"), Path.Combine(_dir, "d5/f010"));
        File.Move(Path.Combine(_dir, "swap"), Path.Combine(_dir, "d5/f020"));
        var swapped = await Open().DigestAsync(["d0", "d1", "d2", "d3", "d4", "d5", "d6"], default);
        Assert.NotEqual(await Open().DigestAsync(["d0", "d1", "d2", "d3", "d4", "d6", "d5"], default), swapped);
        Assert.NotEqual(d1, await Open().DigestAsync([""], default));
        File.SetUnixFileMode(Path.Combine(_dir, "d6/f099"), (UnixFileMode)0b111_101_101);
        Assert.NotEqual(swapped, await Open().DigestAsync(["d0", "d1", "d2", "d3", "d4", "d5", "d6"], default));
    }
}
