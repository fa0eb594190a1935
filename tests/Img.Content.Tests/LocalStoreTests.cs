using System.Text;
using Img.Content;
using Img.Oci;

namespace Img.Content.Tests;

public sealed class LocalStoreTests : IDisposable
{
    private readonly string _state = Directory.CreateTempSubdirectory("state-").FullName;

    public void Dispose() => Directory.Delete(_state, recursive: true);

    private static async Task<Descriptor> WriteImageAsync(ContentStore store, string seed)
    {
        var layer = await store.WriteBytesAsync(Encoding.UTF8.GetBytes("layer " + seed), MediaTypes.OciLayerGzip);
        var config = await store.WriteBytesAsync(OciJson.Serialize(new ImageConfig { Architecture = "amd64", OS = "linux", RootFs = new RootFs { DiffIds = [layer.Digest] } }), MediaTypes.OciConfig);
        return await store.WriteBytesAsync(OciJson.Serialize(new Manifest { MediaType = MediaTypes.OciManifest, Config = config, Layers = [layer] }), MediaTypes.OciManifest);
    }

    [Fact]
    public async Task ImageRecordsAreCreatedRepointedAndDeleted()
    {
        using var store = LocalStore.Open(_state);
        var a = await WriteImageAsync(store.Content, "a");
        var b = await WriteImageAsync(store.Content, "b");
        var t0 = DateTimeOffset.UtcNow.AddMinutes(-5);
        store.Metadata.PutImage("docker.io/library/x:latest", a, t0);
        var updated = store.Metadata.PutImage("docker.io/library/x:latest", b);
        Assert.Equal(b.Digest, updated.Target.Digest);
        Assert.Equal(t0.ToUnixTimeMilliseconds(), updated.CreatedAt.ToUnixTimeMilliseconds());
        Assert.True(updated.UpdatedAt > updated.CreatedAt);
        Assert.Single(store.Metadata.ListImages());
        Assert.True(store.Metadata.DeleteImage("docker.io/library/x:latest"));
        Assert.False(store.Metadata.DeleteImage("docker.io/library/x:latest"));
    }

    [Fact]
    public async Task GarbageCollectionKeepsWhatImagesAndCacheRecordsReach()
    {
        using var store = LocalStore.Open(_state);
        var kept = await WriteImageAsync(store.Content, "kept");
        var dropped = await WriteImageAsync(store.Content, "dropped");
        var cached = await store.Content.WriteBytesAsync(Encoding.UTF8.GetBytes("cache layer"), MediaTypes.OciLayerGzip);
        store.Metadata.PutImage("kept", kept);
        store.Metadata.PutCacheRecord(new CacheRecord { Key = "k1", Kind = "regular", Description = "d", Result = "{}", Blobs = [cached.Digest] });

        var result = await store.CollectGarbageAsync();
        Assert.Equal(3, result.BlobsRemoved);
        Assert.True(store.Content.Exists(kept.Digest));
        Assert.True(store.Content.Exists(cached.Digest));
        Assert.False(store.Content.Exists(dropped.Digest));
        Assert.Equal(4, store.Content.List().Count());
    }

    [Fact]
    public async Task SizeOfAnImageCountsManifestConfigAndLayers()
    {
        using var store = LocalStore.Open(_state);
        var m = await WriteImageAsync(store.Content, "s");
        var manifest = await ContentWalker.ReadManifestAsync(store.Content, m);
        Assert.Equal(m.Size + manifest.Config.Size + manifest.Layers[0].Size, await store.ImageSizeAsync(m, Platform.Host));
    }

    [Fact]
    public async Task IndexSelectsTheHostPlatform()
    {
        using var store = LocalStore.Open(_state);
        var amd = await WriteImageAsync(store.Content, "amd");
        var arm = await WriteImageAsync(store.Content, "arm");
        var index = await store.Content.WriteBytesAsync(OciJson.Serialize(new ImageIndex
        {
            MediaType = MediaTypes.OciIndex,
            Manifests =
            [
                arm with { Platform = Platform.Parse("linux/arm64") },
                amd with { Platform = Platform.Parse("linux/amd64") },
            ],
        }), MediaTypes.OciIndex);
        Assert.Equal(amd.Digest, (await ContentWalker.SelectManifestAsync(store.Content, index, Platform.Parse("linux/amd64")))!.Digest);
        Assert.Equal(arm.Digest, (await ContentWalker.SelectManifestAsync(store.Content, index, Platform.Parse("linux/arm64")))!.Digest);
        Assert.Null(await ContentWalker.SelectManifestAsync(store.Content, index, Platform.Parse("linux/s390x")));
    }

    [Fact]
    public void ConcurrentWritersFromSeparateConnectionsAllLand()
    {
        using (LocalStore.Open(_state)) { }
        var digest = Digest.Compute([1]);
        Parallel.For(0, 16, i =>
        {
            using var s = LocalStore.Open(_state);
            for (int j = 0; j < 20; j++)
                s.Metadata.PutImage($"img{i}-{j}", new Descriptor(MediaTypes.OciManifest, digest, 1));
        });
        using var check = LocalStore.Open(_state);
        Assert.Equal(320, check.Metadata.ListImages().Count);
    }

    [Fact]
    public async Task ManyThreadsOnOneStoreAndOthersOnTheirOwnReadAndWriteAtOnce()
    {
        // Parallel stages share one store (one connection); other processes have their own. Every path in
        // at once: transactions (cache records), single statements, and reads that run two queries.
        using var shared = LocalStore.Open(_state);
        var digest = Digest.Compute([2]);
        const int Rounds = 40;
        async Task Work(LocalStore s, string who)
        {
            await Task.Yield();
            for (int j = 0; j < Rounds; j++)
            {
                var key = $"{who}-{j}";
                s.Metadata.PutCacheRecord(new CacheRecord { Key = key, Kind = "regular", Description = key, Result = "{}", Blobs = [digest, Digest.Compute([0xff, (byte)j])] });
                Assert.Equal(2, s.Metadata.GetCacheRecord(key)!.Blobs.Count);
                s.Metadata.TouchCacheRecord(key);
                s.Metadata.PutImage("img-" + key, new Descriptor(MediaTypes.OciManifest, digest, 1));
                Assert.NotNull(s.Metadata.GetImage("img-" + key));
                Assert.NotEmpty(s.Metadata.ListCacheRecords());
                Assert.NotEmpty(s.Metadata.ListImages());
                Assert.Contains(digest, s.Metadata.CacheBlobRoots());
                if (j % 2 == 1)
                {
                    Assert.True(s.Metadata.DeleteCacheRecord(key));
                    Assert.True(s.Metadata.DeleteImage("img-" + key));
                }
            }
        }
        var work = new List<Task>();
        for (int i = 0; i < 8; i++) { var who = $"stage{i}"; work.Add(Task.Run(() => Work(shared, who))); }
        var own = Enumerable.Range(0, 3).Select(_ => LocalStore.Open(_state)).ToList();
        for (int i = 0; i < own.Count; i++) { var s = own[i]; var who = $"process{i}"; work.Add(Task.Run(() => Work(s, who))); }
        try { await Task.WhenAll(work).WaitAsync(TimeSpan.FromMinutes(2)); }
        finally { own.ForEach(s => s.Dispose()); }

        using var check = LocalStore.Open(_state);
        Assert.Equal(11 * Rounds / 2, check.Metadata.ListCacheRecords().Count);
        Assert.Equal(11 * Rounds / 2, check.Metadata.ListImages().Count);
        Assert.All(check.Metadata.ListCacheRecords(), r => Assert.Equal(2, r.UsageCount));
    }

    [Fact]
    public async Task CollectionWaitsForWorkInFlightInAnotherStore()
    {
        using var busy = LocalStore.Open(_state);
        using var collector = LocalStore.Open(_state);
        var gc = Task.Run(() => collector.CollectGarbageAsync());
        await Task.Delay(300);
        Assert.False(gc.IsCompleted, "garbage collection must wait while another store holds the shared lock");
        busy.Dispose();
        await gc.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void AStateDirectoryThatCannotBeCreatedIsAClearError()
    {
        var file = Path.Combine(_state, "a-file");
        File.WriteAllText(file, "");
        var e = Assert.Throws<StateDirectoryException>(() => LocalStore.Open(Path.Combine(file, "state")));
        Assert.Contains("state directory", e.Message);
    }
}
