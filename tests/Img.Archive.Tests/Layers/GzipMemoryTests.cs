using Img.Archive.Layers;

namespace Img.Archive.Tests.Layers;

/// <summary>Tests that measure the process's managed heap: they run alone, since a test running beside them allocates too.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HeapMeasuringCollection
{
    public const string Name = "measures the heap";
}

[Collection(HeapMeasuringCollection.Name)]
public sealed class GzipMemoryTests
{
    [Fact]
    public async Task AGzipOfManyBlocksHoldsNoMoreMemoryThanOneOfAFew()
    {
        // Blocks are rented on the writer and returned on whichever pool thread deflated them; with many pool threads
        // the shared ArrayPool kept one on each. Random data (stored blocks) keeps the test quick.
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, 16), io);
        var block = new byte[ParallelGzipStream.DefaultBlockSize];
        new Random(5).NextBytes(block);
        async Task<long> HeldAfter(int blocks)
        {
            await using (var gz = new ParallelGzipStream(Stream.Null, leaveOpen: true))
                for (var i = 0; i < blocks; i++) await gz.WriteAsync(block);
            return GC.GetTotalMemory(forceFullCollection: true);
        }
        var few = await HeldAfter(8);
        var many = await HeldAfter(400);
        Assert.True(many - few < 2 * ParallelGzipStream.DefaultBlockSize,
            $"after 400 blocks {(many - few) / 1024} KiB more is held than after 8");
    }
}
