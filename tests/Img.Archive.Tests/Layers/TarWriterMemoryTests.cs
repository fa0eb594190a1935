using Img.Archive.Layers;

namespace Img.Archive.Tests.Layers;

[Collection(HeapMeasuringCollection.Name)]
public sealed class TarWriterMemoryTests
{
    [Fact]
    public async Task ALayerOfManySmallFilesLeavesNoLargeBuffersBehind()
    {
        // A layer's writes resume on pool threads (the gzip stream awaits its deflate tasks). A 256 KiB copy buffer per
        // file was rented on one thread and returned on another, and the shared ArrayPool kept one for every thread and
        // core it passed: large-object-heap arrays that a longer layer touched more of.
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, 16), io);
        var content = new byte[100];
        var before = LargeObjectHeapAfterCollection();
        await Task.Run(async () => // off the test framework's context, so each yield resumes on any pool thread
        {
            await using var tar = new TarStreamWriter(new HoppingStream());
            for (var i = 0; i < 5000; i++)
                await tar.WriteEntryAsync(new TarHeader { Name = $"d/f{i}", Kind = TarEntryKind.File, Mode = 0x1a4, Size = content.Length }, new MemoryStream(content));
        });
        var grown = LargeObjectHeapAfterCollection() - before;
        Assert.True(grown < 256 * 1024, $"the large object heap holds {grown / 1024} KiB more after 5,000 files of 100 bytes");
    }

    private static long LargeObjectHeapAfterCollection()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetGCMemoryInfo(GCKind.FullBlocking).GenerationInfo[3].SizeAfterBytes;
    }

    /// <summary>Discards what is written, continuing every write on a pool thread as a deflating stream does.</summary>
    private sealed class HoppingStream : ForwardWriteStream
    {
        public override void Write(ReadOnlySpan<byte> buffer) { }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default) =>
            await Task.Yield();
    }
}
