using Img.Oci;
using Img.TestSupport;

namespace Img.Registry.Tests;

/// <summary>Pull and push against a real docker-registry over plain HTTP on loopback.</summary>
public sealed class PullPushTests : IAsyncLifetime, IDisposable
{
    private RegistryServer _registry = null!;
    private readonly Scratch _scratch = new();

    public async Task InitializeAsync() => _registry = await RegistryServer.StartAsync(RegistryShape.Plain);

    public async Task DisposeAsync() => await _registry.DisposeAsync();

    public void Dispose() => _scratch.Dispose();

    private Reference Ref(string repoAndTag) => Reference.Parse($"{_registry.HostPort}/{repoAndTag}");

    [Fact]
    public async Task Push_then_pull_into_a_fresh_store_gives_the_same_bytes()
    {
        var image = await TestImages.CreateAsync(_scratch.Store, "amd64", TestImages.Random(200_000), TestImages.Random(50_000));
        var client = _scratch.Client();
        var pushed = await client.PushAsync(Ref("roundtrip/app:v1"), image.Manifest, _scratch.Store);
        Assert.Equal(3, pushed.Uploaded);
        Assert.Equal(0, pushed.Existing);

        var fresh = _scratch.NewStore("fresh");
        var progress = new List<RegistryProgress>();
        var result = await _scratch.Client().PullAsync(Ref("roundtrip/app:v1"), Platform.Parse("linux/amd64"), fresh, new SyncProgress(progress));

        Assert.Equal(image.Manifest.Digest, result.Target.Digest);
        Assert.Equal(MediaTypes.OciManifest, result.Target.MediaType);
        Assert.Equal(image.Config.Digest, result.Config.Digest);
        Assert.Equal(image.Manifest.Size + image.Blobs.Sum(b => b.Size), result.Size);
        foreach (var blob in image.Blobs.Append(image.Manifest))
            Assert.Equal(await _scratch.Store.ReadAllBytesAsync(blob.Digest), await fresh.ReadAllBytesAsync(blob.Digest));
        Assert.Contains(progress, p => p.Kind == RegistryProgressKind.Done && p.Subject == image.Layers[0].Digest.ToString());
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(fresh.Root, "ingest")));
    }

    [Fact]
    public async Task Pull_of_an_image_seeded_by_plain_http_requests()
    {
        var seeded = await _registry.SeedImageAsync("seed/busybox", "1.0");
        var store = _scratch.NewStore("pulled");
        var client = _scratch.Client();
        var result = await client.PullAsync(Reference.Parse(seeded.Reference), null, store);
        Assert.Equal(seeded.Manifest.Digest, result.Manifest.Digest);
        Assert.Equal(seeded.ManifestBytes, await store.ReadAllBytesAsync(seeded.Manifest.Digest));
        Assert.True(store.Exists(seeded.Layer.Digest));

        // Resolve agrees (HEAD), and a second pull finds every blob already stored.
        var resolved = await client.ResolveAsync(Reference.Parse(seeded.Reference));
        Assert.Equal(seeded.Manifest.Digest, resolved.Digest);
        Assert.Equal(seeded.Manifest.Size, resolved.Size);
        var progress = new List<RegistryProgress>();
        await client.PullAsync(Reference.Parse(seeded.Reference), null, store, new SyncProgress(progress));
        Assert.Equal(2, progress.Count(p => p.Kind == RegistryProgressKind.Exists));
        Assert.DoesNotContain(progress, p => p.Kind == RegistryProgressKind.Transferring);
    }

    [Fact]
    public async Task The_seeded_busybox_image_pulls_with_a_runnable_layout()
    {
        var seeded = await _registry.SeedBusyboxAsync("library/busybox", "latest");
        var result = await _scratch.Client().PullAsync(Reference.Parse(seeded.Reference), null, _scratch.Store);
        var manifest = OciJson.Deserialize<Manifest>(await _scratch.Store.ReadAllBytesAsync(result.Manifest.Digest));
        await using var layer = _scratch.Store.OpenRead(Assert.Single(manifest.Layers).Digest);
        await using var gunzip = new System.IO.Compression.GZipStream(layer, System.IO.Compression.CompressionMode.Decompress);
        var reader = new System.Formats.Tar.TarReader(gunzip);
        var entries = new Dictionary<string, System.Formats.Tar.TarEntry>();
        while (await reader.GetNextEntryAsync() is { } entry) entries[entry.Name] = entry;
        Assert.Equal(File.ReadAllBytes("/bin/busybox").Length, entries["bin/busybox"].Length);
        Assert.Equal("busybox", entries["bin/sh"].LinkName);
        Assert.Contains("\"Cmd\":[\"sh\"]", System.Text.Encoding.UTF8.GetString(await _scratch.Store.ReadAllBytesAsync(result.Config.Digest)));
    }

    [Fact]
    public async Task Pull_by_digest_and_fetch_manifest_keep_the_served_bytes()
    {
        var seeded = await _registry.SeedImageAsync("seed/bydigest");
        var byDigest = Reference.Parse($"{_registry.HostPort}/seed/bydigest@{seeded.Manifest.Digest}");
        var fetched = await _scratch.Client().FetchManifestAsync(byDigest);
        Assert.Equal(seeded.ManifestBytes, fetched.Bytes);
        var result = await _scratch.Client().PullAsync(byDigest, null, _scratch.NewStore("d"));
        Assert.Equal(seeded.Manifest.Digest, result.Target.Digest);
    }

    [Fact]
    public async Task Index_pull_selects_the_platform_and_keeps_the_index_bytes()
    {
        var amd = await TestImages.CreateAsync(_scratch.Store, "amd64", TestImages.Random(10_000));
        var arm = await TestImages.CreateAsync(_scratch.Store, "arm64", TestImages.Random(12_000));
        var index = await TestImages.CreateIndexAsync(_scratch.Store, amd, arm);
        await _scratch.Client().PushAsync(Ref("multi/app:latest"), index, _scratch.Store);

        foreach (var (platform, expected, other) in new[] { ("linux/amd64", amd, arm), ("linux/arm64", arm, amd) })
        {
            var store = _scratch.NewStore(platform.Replace('/', '-'));
            var result = await _scratch.Client().PullAsync(Ref("multi/app:latest"), Platform.Parse(platform), store);
            Assert.Equal(index.Digest, result.Target.Digest);
            Assert.Equal(MediaTypes.OciIndex, result.Target.MediaType);
            Assert.Equal(expected.Manifest.Digest, result.Manifest.Digest);
            Assert.Equal(platform, result.Manifest.Platform!.ToString());
            Assert.Equal(await _scratch.Store.ReadAllBytesAsync(index.Digest), await store.ReadAllBytesAsync(index.Digest));
            Assert.True(store.Exists(expected.Layers[0].Digest));
            Assert.False(store.Exists(other.Layers[0].Digest));
        }

        var ex = await Assert.ThrowsAsync<RegistryException>(() =>
            _scratch.Client().PullAsync(Ref("multi/app:latest"), Platform.Parse("linux/s390x"), _scratch.NewStore("none")));
        Assert.Contains("no matching manifest for linux/s390x", ex.Message);
    }

    [Fact]
    public async Task Push_checks_with_HEAD_first_and_uploads_only_missing_blobs()
    {
        byte[] shared = TestImages.Random(80_000);
        var first = await TestImages.CreateAsync(_scratch.Store, "amd64", shared);
        var second = await TestImages.CreateAsync(_scratch.Store, "amd64", shared, TestImages.Random(30_000));
        var client = _scratch.Client();
        var r1 = await client.PushAsync(Ref("skip/app:one"), first.Manifest, _scratch.Store);
        Assert.Equal((2, 0), (r1.Uploaded, r1.Existing));
        var r2 = await client.PushAsync(Ref("skip/app:two"), second.Manifest, _scratch.Store);
        // The shared layer is found by HEAD; the new layer and the new config are uploaded.
        Assert.Equal((2, 1), (r2.Uploaded, r2.Existing));
        var r3 = await client.PushAsync(Ref("skip/app:two"), second.Manifest, _scratch.Store);
        Assert.Equal((0, 3), (r3.Uploaded, r3.Existing));
    }

    [Fact]
    public async Task Push_mounts_blobs_from_another_repository_when_hinted()
    {
        var image = await TestImages.CreateAsync(_scratch.Store, "amd64", TestImages.Random(60_000));
        var client = _scratch.Client();
        await client.PushAsync(Ref("mount/source:1"), image.Manifest, _scratch.Store);
        var result = await client.PushAsync(Ref("mount/target:1"), image.Manifest, _scratch.Store, mountSources: _ => ["mount/source"]);
        Assert.Equal((0, 0, 2), (result.Uploaded, result.Existing, result.Mounted));
        var pulled = await _scratch.Client().PullAsync(Ref("mount/target:1"), null, _scratch.NewStore("m"));
        Assert.Equal(image.Manifest.Digest, pulled.Target.Digest);
    }

    [Fact]
    public async Task Chunked_upload_sends_patches_and_the_blob_arrives_intact()
    {
        var image = await TestImages.CreateAsync(_scratch.Store, "amd64", TestImages.Random(300_000));
        var client = _scratch.Client(tweak: o => o with { ChunkSize = 64 * 1024 });
        await client.PushAsync(Ref("chunked/app:1"), image.Manifest, _scratch.Store);
        Assert.Contains(_scratch.Log, l => l.Contains($"{image.Layers[0].Digest}: uploading in 5 chunks", StringComparison.Ordinal));
        var store = _scratch.NewStore("c");
        await _scratch.Client().PullAsync(Ref("chunked/app:1"), null, store);
        Assert.Equal(await _scratch.Store.ReadAllBytesAsync(image.Layers[0].Digest), await store.ReadAllBytesAsync(image.Layers[0].Digest));
    }

    [Fact]
    public async Task Missing_tag_or_repository_is_ImageNotFound()
    {
        await _registry.SeedImageAsync("present/app", "v1");
        var client = _scratch.Client();
        var tag = await Assert.ThrowsAsync<ImageNotFoundException>(() => client.PullAsync(Ref("present/app:nope"), null, _scratch.Store));
        Assert.Equal($"{_registry.HostPort}/present/app:nope: not found", tag.Message);
        var repo = await Assert.ThrowsAsync<ImageNotFoundException>(() => client.ResolveAsync(Ref("absent/app:v1")));
        Assert.Equal($"{_registry.HostPort}/absent/app:v1: not found", repo.Message);
    }

    [Fact]
    public async Task Push_of_an_index_whose_manifest_is_missing_locally_is_refused_before_any_upload()
    {
        var amd = await TestImages.CreateAsync(_scratch.Store, "amd64", TestImages.Random(1000));
        var ghost = amd with { Manifest = amd.Manifest with { Digest = Digest.Compute("absent"u8), Platform = Platform.Parse("linux/arm64") } };
        var index = await TestImages.CreateIndexAsync(_scratch.Store, amd, ghost);
        var ex = await Assert.ThrowsAsync<RegistryException>(() => _scratch.Client().PushAsync(Ref("partial/app:1"), index, _scratch.Store));
        Assert.Contains("(linux/arm64) is not in the local store", ex.Message);
        await Assert.ThrowsAsync<ImageNotFoundException>(() => _scratch.Client().ResolveAsync(Ref("partial/app:1")));
    }
}

/// <summary>Collects progress synchronously (Progress&lt;T&gt; posts to the thread pool and would race the assertions).</summary>
public sealed class SyncProgress(List<RegistryProgress> sink) : IProgress<RegistryProgress>
{
    public void Report(RegistryProgress value)
    {
        lock (sink) sink.Add(value);
    }
}
