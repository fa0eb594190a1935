using System.Text;
using Img.Content;
using Img.Oci;

namespace Img.Content.Tests;

public sealed class ContentStoreTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("content-").FullName;
    private readonly ContentStore _store;

    public ContentStoreTests() => _store = new ContentStore(_root);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task IngestVerifiesAndStoresUnderTheDigest()
    {
        var data = Encoding.UTF8.GetBytes("layer bytes");
        var digest = Digest.Compute(data);
        var desc = await _store.IngestAsync(new MemoryStream(data), "x", digest, data.Length);
        Assert.Equal(digest, desc.Digest);
        Assert.Equal(data, await _store.ReadAllBytesAsync(digest));
        Assert.Equal(data.Length, _store.SizeOf(digest));
        Assert.Empty(Directory.GetFiles(Path.Combine(_root, "ingest")));
    }

    [Fact]
    public async Task WrongDigestIsNeverVisible()
    {
        var data = Encoding.UTF8.GetBytes("real");
        var claimed = Digest.Compute(Encoding.UTF8.GetBytes("claimed"));
        await Assert.ThrowsAsync<DigestMismatchException>(() => _store.IngestAsync(new MemoryStream(data), "x", claimed, data.Length));
        Assert.False(_store.Exists(claimed));
        Assert.False(_store.Exists(Digest.Compute(data)));
        Assert.Empty(Directory.GetFiles(Path.Combine(_root, "ingest")));
    }

    [Fact]
    public async Task WrongSizeIsRejected()
    {
        var data = Encoding.UTF8.GetBytes("twelve bytes");
        await Assert.ThrowsAsync<DigestMismatchException>(() => _store.IngestAsync(new MemoryStream(data), "x", Digest.Compute(data), 5));
        Assert.False(_store.Exists(Digest.Compute(data)));
    }

    [Fact]
    public async Task ConcurrentIngestOfTheSameBlobAllSucceed()
    {
        var data = new byte[4 << 20];
        new Random(1).NextBytes(data);
        var digest = Digest.Compute(data);
        // Separate stores on one root behave like separate processes.
        var tasks = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            await using var w = new ContentStore(_root).CreateWriter();
            for (int off = 0; off < data.Length; off += 65536)
                await w.WriteAsync(data.AsMemory(off, 65536));
            return (await w.CommitAsync(digest, data.Length)).Digest;
        }));
        var results = await Task.WhenAll(tasks);
        Assert.All(results, d => Assert.Equal(digest, d));
        Assert.Equal(data, await _store.ReadAllBytesAsync(digest));
    }

    [Fact]
    public async Task AbandonedWriterLeavesNothing()
    {
        await using (var w = _store.CreateWriter())
            await w.WriteAsync(new byte[100]);
        Assert.Empty(Directory.GetFiles(Path.Combine(_root, "ingest")));
        Assert.Empty(_store.List());
    }

    [Fact]
    public void CleanIngestRemovesTempFilesOfDeadProcesses()
    {
        var stale = Path.Combine(_root, "ingest", "999999999-abc");
        File.WriteAllText(stale, "partial");
        var mine = Path.Combine(_root, "ingest", $"{Environment.ProcessId}-def");
        File.WriteAllText(mine, "in flight");
        _store.CleanIngest();
        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(mine));
    }

    [Fact]
    public void MissingBlobIsATypedError() =>
        Assert.Throws<BlobNotFoundException>(() => _store.OpenRead(Digest.Compute([1, 2, 3])));
}
