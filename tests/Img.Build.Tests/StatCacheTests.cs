using Img.Build;
using Img.Dockerfile;

namespace Img.Build.Tests;

/// <summary>Tests that measure the process's managed heap: they run alone, since a test running beside them allocates too.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HeapMeasuringCollection
{
    public const string Name = "measures the heap";
}

/// <summary>The context stat cache on disk: runs spilled past a bound, the merge on save, damaged files, memory.</summary>
[Collection(HeapMeasuringCollection.Name)]
public sealed class StatCacheTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("img-statcache-ctx-").FullName;
    private readonly string _state = Directory.CreateTempSubdirectory("img-statcache-state-").FullName;

    public void Dispose()
    {
        Directory.Delete(_dir, true);
        Directory.Delete(_state, true);
    }

    private string CacheFile => Path.Combine(_state, "build", "context-stats");

    private void Write(string rel, string text)
    {
        var p = Path.Combine(_dir, rel);
        Directory.CreateDirectory(Path.GetDirectoryName(p)!);
        File.WriteAllText(p, text);
    }

    private Task<Oci.Digest> DigestAsync(StatCache cache) => new BuildContext(_dir, DockerIgnore.Empty, cache).DigestAsync([""], default);

    [Fact]
    public async Task RecordsSpilledToRunsAreMergedOnSaveAndServeTheNextBuild()
    {
        for (int i = 0; i < 300; i++) Write($"d{i % 7}/f{i:D3}", "content " + i);
        var uncached = await DigestAsync(StatCache.Load(Path.Combine(_state, "other")));

        // 300 new records with a bound of 16: 18 runs on disk and 12 records in memory at save time.
        var first = StatCache.Load(CacheFile, spillAfter: 16);
        Assert.Equal(uncached, await DigestAsync(first));
        Assert.Equal(300, first.Hashed);
        // The runs are unlinked files: nothing but the saved table is ever seen beside it.
        Assert.Empty(Directory.Exists(Path.GetDirectoryName(CacheFile)) ? Directory.GetFiles(Path.GetDirectoryName(CacheFile)!) : []);
        first.Save();
        Assert.Equal([CacheFile], Directory.GetFiles(Path.GetDirectoryName(CacheFile)!));

        var second = StatCache.Load(CacheFile, spillAfter: 16);
        Assert.Equal(uncached, await DigestAsync(second));
        Assert.Equal(0, second.Hashed);

        // A changed file is hashed again; the merge keeps the newer record over the saved one.
        Write("d3/f010", "changed");
        var third = StatCache.Load(CacheFile, spillAfter: 16);
        var changed = await DigestAsync(third);
        Assert.NotEqual(uncached, changed);
        Assert.Equal(1, third.Hashed);
        third.Save();
        var fourth = StatCache.Load(CacheFile);
        Assert.Equal(changed, await DigestAsync(fourth));
        Assert.Equal(0, fourth.Hashed);
    }

    [Fact]
    public async Task ACacheSavedTwiceByOneInstanceKeepsBothRounds()
    {
        Write("a/one", "1");
        var cache = StatCache.Load(CacheFile, spillAfter: 1);
        await DigestAsync(cache);
        cache.Save();
        Write("b/two", "2");
        await DigestAsync(cache);
        Assert.Equal(2, cache.Hashed);
        cache.Save();
        var next = StatCache.Load(CacheFile);
        await DigestAsync(next);
        Assert.Equal(0, next.Hashed);
    }

    [Theory]
    [InlineData("flip")]
    [InlineData("truncate")]
    [InlineData("text")]
    public async Task ADamagedOrOldCacheFileIsAnEmptyCacheAndIsRewritten(string damage)
    {
        for (int i = 0; i < 200; i++) Write($"d{i % 3}/f{i:D3}", "content " + i);
        var cache = StatCache.Load(CacheFile);
        var digest = await DigestAsync(cache);
        cache.Save();
        var bytes = File.ReadAllBytes(CacheFile);
        switch (damage)
        {
            case "flip": bytes[^20] ^= 0x01; File.WriteAllBytes(CacheFile, bytes); break; // inside the last record's sha256
            case "truncate": File.WriteAllBytes(CacheFile, bytes[..^1]); break;
            default: File.WriteAllText(CacheFile, "%2Fctx%2Ff\t3\t1\t1\t1\tsha256:" + new string('0', 64) + "\n"); break; // the earlier text format
        }

        var reread = StatCache.Load(CacheFile);
        Assert.Equal(digest, await DigestAsync(reread));
        Assert.Equal(200, reread.Hashed);
        reread.Save();
        var repaired = StatCache.Load(CacheFile);
        Assert.Equal(digest, await DigestAsync(repaired));
        Assert.Equal(0, repaired.Hashed);
    }

    [Fact]
    public async Task MemoryDoesNotGrowWithTheNumberOfFilesHashed()
    {
        // 20,000 names for one small file (hard links: each its own path, so its own record), in 100 directories.
        var source = Path.Combine(_dir, "source");
        File.WriteAllText(source, "the same content");
        for (int d = 0; d < 100; d++)
        {
            var dir = Directory.CreateDirectory(Path.Combine(_dir, $"d{d:D3}")).FullName;
            for (int f = 0; f < 200; f++) Img.Build.Posix.Link(source, Path.Combine(dir, $"f{f:D3}"));
        }
        var cache = StatCache.Load(CacheFile);
        var before = GC.GetTotalMemory(forceFullCollection: true);
        await DigestAsync(cache);
        var held = GC.GetTotalMemory(forceFullCollection: true) - before;
        Assert.Equal(20_001, cache.Hashed);
        // Records of an in-memory dictionary cost about 0.4 KiB each (8 MiB here); at most DefaultSpillAfter stay in memory.
        Assert.True(held < 2 * 1024 * 1024, $"the cache holds {held / 1024} KiB after hashing 20,001 files");
        GC.KeepAlive(cache);

        cache.Save();
        var warm = StatCache.Load(CacheFile);
        before = GC.GetTotalMemory(forceFullCollection: true);
        await DigestAsync(warm);
        held = GC.GetTotalMemory(forceFullCollection: true) - before;
        Assert.Equal(0, warm.Hashed);
        Assert.True(held < 1024 * 1024, $"the warm cache holds {held / 1024} KiB after serving 20,001 files");
        GC.KeepAlive(warm);
    }
}
