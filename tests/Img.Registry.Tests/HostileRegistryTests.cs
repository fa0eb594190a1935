using System.Diagnostics;
using System.Net;
using System.Text;
using Img.Oci;

namespace Img.Registry.Tests;

/// <summary>
/// Registries that attack the client: bodies that never end or only drip, manifests that point back at themselves or
/// that are huge. Each pull must fail with a clear error, in bounded time and memory, and store nothing.
/// </summary>
public sealed class HostileRegistryTests : IDisposable
{
    private readonly Scratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    private static readonly byte[] Noise = Enumerable.Range(0, 64 * 1024).Select(i => (byte)(i * 31 + 7)).ToArray();

    /// <summary>Streams <see cref="Noise"/> without a Content-Length until the client hangs up (or the test ends).</summary>
    private static async Task EndlessAsync(HttpListenerContext ctx, string? contentType = null)
    {
        ctx.Response.StatusCode = 200;
        ctx.Response.SendChunked = true;
        if (contentType is not null) ctx.Response.ContentType = contentType;
        for (long sent = 0; sent < 8L << 30; sent += Noise.Length) await ctx.Response.OutputStream.WriteAsync(Noise);
    }

    /// <summary>Sends <paramref name="body"/> a few bytes at a time with pauses: alive, but far too slow.</summary>
    private static async Task DripAsync(HttpListenerContext ctx, byte[] body, string? contentType = null)
    {
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentLength64 = body.Length;
        if (contentType is not null) ctx.Response.ContentType = contentType;
        for (int i = 0; i < body.Length; i += 8)
        {
            await ctx.Response.OutputStream.WriteAsync(body.AsMemory(i, Math.Min(8, body.Length - i)));
            await ctx.Response.OutputStream.FlushAsync();
            await Task.Delay(100);
        }
        ctx.Response.Close();
    }

    private static (byte[] Manifest, Descriptor Config) OneBlobImage(int size)
    {
        var blob = new byte[size];
        Random.Shared.NextBytes(blob);
        var config = new Descriptor(MediaTypes.OciConfig, Digest.Compute(blob), blob.Length);
        return (OciJson.Serialize(new Manifest { MediaType = MediaTypes.OciManifest, Config = config, Layers = [] }), config);
    }

    private static FakeRegistry Serve(Func<HttpListenerContext, Task> manifest, Func<HttpListenerContext, Task>? blob = null) =>
        FakeRegistry.Start(async ctx =>
        {
            string path = ctx.Request.Url!.AbsolutePath;
            if (path == "/v2/") FakeRegistry.Reply(ctx, 200);
            else if (path.Contains("/manifests/")) await manifest(ctx);
            else if (path.Contains("/blobs/") && blob is not null) await blob(ctx);
            else FakeRegistry.Reply(ctx, 404);
        });

    /// <summary>Answers every manifest request, whatever it names, with one index holding <paramref name="entry"/>.</summary>
    private static FakeRegistry ServeIndexForEveryManifest(Descriptor entry)
    {
        var index = OciJson.Serialize(new ImageIndex { MediaType = MediaTypes.OciIndex, Manifests = [entry] });
        return Serve(ctx => { FakeRegistry.Reply(ctx, 200, index, MediaTypes.OciIndex); return Task.CompletedTask; });
    }

    private static int ManifestRequests(FakeRegistry fake) => fake.Requests.Count(r => r.Path.Contains("/manifests/"));

    private async Task<RegistryException> PullFailsAsync(FakeRegistry fake, Func<RegistryOptions, RegistryOptions>? tweak = null)
    {
        var watch = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<RegistryException>(() =>
            _scratch.Client(tweak: tweak).PullAsync(Reference.Parse($"{fake.HostPort}/hostile/image:1"), null, _scratch.Store));
        // A hang guard, not a speed check: every case here must end, and long before this.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"took {watch.Elapsed}");
        Assert.Empty(_scratch.Store.List());
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_scratch.Store.Root, "ingest")));
        return ex;
    }

    [Fact]
    public async Task An_endless_blob_body_stops_at_the_declared_size()
    {
        var (manifest, config) = OneBlobImage(100_000);
        await using var fake = Serve(ctx => { FakeRegistry.Reply(ctx, 200, manifest, MediaTypes.OciManifest); return Task.CompletedTask; },
            ctx => EndlessAsync(ctx));
        var ex = await PullFailsAsync(fake);
        Assert.Equal("SIZE_INVALID", ex.ErrorCode);
        Assert.Contains($"blob {config.Digest} is larger than the 100000 bytes its descriptor declares", ex.Message);
    }

    /// <summary>A layer declared at 100 GB streamed fast once made a pull write 11.6 GB in 30 s: the ceiling refuses it up front.</summary>
    [Fact]
    public async Task A_blob_declared_past_the_ceiling_is_refused_before_a_byte_is_fetched()
    {
        var layer = new Descriptor(MediaTypes.OciLayerGzip, Digest.Compute("the attacker's layer"u8), 100_000_000_000);
        var manifest = OciJson.Serialize(new Manifest { MediaType = MediaTypes.OciManifest, Config = layer, Layers = [layer] });
        await using var fake = Serve(ctx => { FakeRegistry.Reply(ctx, 200, manifest, MediaTypes.OciManifest); return Task.CompletedTask; },
            ctx => EndlessAsync(ctx));
        var ex = await PullFailsAsync(fake);
        Assert.Equal("SIZE_INVALID", ex.ErrorCode);
        Assert.Contains($"blob {layer.Digest} declares 100000000000 bytes, more than the {Img.Content.InputLimits.DefaultMaxBlobSize} img accepts (IMG_MAX_BLOB_SIZE)", ex.Message);
        Assert.DoesNotContain(fake.Requests, r => r.Path.EndsWith(layer.Digest.ToString(), StringComparison.Ordinal));
    }

    /// <summary>A manifest with a null where a layer should be crashed img with an ArgumentNullException (exit 134).</summary>
    [Theory]
    [InlineData("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":CONFIG,"layers":[null]}""", "holds a null entry")]
    [InlineData("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":null,"layers":[]}""", "must not be null")]
    [InlineData("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":CONFIG,"layers":[{"mediaType":"x","size":1}]}""", "without a digest")]
    public async Task A_manifest_with_nulls_is_one_clear_error(string json, string why)
    {
        var (_, config) = OneBlobImage(10);
        var manifest = Encoding.UTF8.GetBytes(json.Replace("CONFIG", Encoding.UTF8.GetString(OciJson.Serialize(config)), StringComparison.Ordinal));
        await using var fake = Serve(ctx => { FakeRegistry.Reply(ctx, 200, manifest, MediaTypes.OciManifest); return Task.CompletedTask; });
        var ex = await PullFailsAsync(fake);
        Assert.Contains("invalid manifest", ex.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains(why, ex.Message);
    }

    [Fact]
    public async Task An_endless_manifest_body_is_cut_at_the_manifest_limit()
    {
        await using var fake = Serve(ctx => EndlessAsync(ctx, MediaTypes.OciManifest));
        var ex = await PullFailsAsync(fake);
        Assert.Contains("manifest: response larger than 4194304 bytes", ex.Message);
    }

    [Fact]
    public async Task A_huge_manifest_is_refused_by_its_announced_length()
    {
        await using var fake = Serve(ctx =>
        {
            ctx.Response.StatusCode = 200;
            ctx.Response.ContentType = MediaTypes.OciManifest;
            ctx.Response.ContentLength64 = 1L << 40;
            ctx.Response.OutputStream.Write(Noise);
            ctx.Response.Abort();
            return Task.CompletedTask;
        });
        var ex = await PullFailsAsync(fake);
        Assert.Contains("manifest larger than 4194304 bytes", ex.Message);
    }

    [Fact]
    public async Task A_huge_but_allowed_index_without_a_match_is_parsed_and_refused_clearly()
    {
        // 20,000 entries (~3 MiB) for other platforms: parsed within the limit, and no match is a clear error.
        var entries = Enumerable.Range(0, 20_000).Select(i => new Descriptor(MediaTypes.OciManifest, Digest.Compute(BitConverter.GetBytes(i)), 500)
        {
            Platform = new Platform { OS = "plan9", Architecture = "arch" + i },
        }).ToList();
        var index = OciJson.Serialize(new ImageIndex { MediaType = MediaTypes.OciIndex, Manifests = entries });
        Assert.InRange(index.Length, 1 << 20, RegistryClient.MaxManifestSize);
        await using var fake = Serve(ctx => { FakeRegistry.Reply(ctx, 200, index, MediaTypes.OciIndex); return Task.CompletedTask; });
        var ex = await PullFailsAsync(fake);
        Assert.Equal("NO_PLATFORM", ex.ErrorCode);
    }

    [Fact]
    public async Task A_dripping_blob_body_fails_as_too_slow_instead_of_running_forever()
    {
        var (manifest, config) = OneBlobImage(200_000);
        await using var fake = Serve(ctx => { FakeRegistry.Reply(ctx, 200, manifest, MediaTypes.OciManifest); return Task.CompletedTask; },
            ctx => DripAsync(ctx, new byte[200_000]));
        var ex = await PullFailsAsync(fake, o => o with { LowSpeedWindow = TimeSpan.FromSeconds(2), MaxAttempts = 2 });
        Assert.Contains($"blob {config.Digest}: transfer failed after 2 attempts: transfer slower than 1024 bytes/s for 2s", ex.Message);
    }

    [Fact]
    public async Task A_dripping_manifest_fails_as_too_slow()
    {
        var (manifest, _) = OneBlobImage(10);
        var padded = manifest.Concat(Enumerable.Repeat((byte)' ', 4000)).ToArray();
        await using var fake = Serve(ctx => DripAsync(ctx, padded, MediaTypes.OciManifest));
        var ex = await PullFailsAsync(fake, o => o with { LowSpeedWindow = TimeSpan.FromSeconds(2) });
        Assert.Contains("manifest: response body transfer slower than 1024 bytes/s for 2s", ex.Message);
    }

    [Fact]
    public async Task An_index_whose_entry_resolves_to_the_index_itself_fails_verification()
    {
        // Every manifest request gets the index back, so the child "is" its own parent: the digest check must stop it.
        var child = new Descriptor(MediaTypes.OciManifest, Digest.Compute(Encoding.UTF8.GetBytes("a manifest")), 300) { Platform = Platform.Host };
        await using var fake = ServeIndexForEveryManifest(child);
        var ex = await PullFailsAsync(fake);
        Assert.Equal("DIGEST_INVALID", ex.ErrorCode);
        Assert.Contains($"manifest digest mismatch: expected {child.Digest}", ex.Message);
        Assert.Equal(2, ManifestRequests(fake));
    }

    [Fact]
    public async Task An_index_pointing_at_another_index_is_not_followed()
    {
        // Nested indexes could chain without end; only image manifests are candidates, so this is "no match".
        var nested = new Descriptor(MediaTypes.OciIndex, Digest.Compute(Encoding.UTF8.GetBytes("another index")), 300) { Platform = Platform.Host };
        await using var fake = ServeIndexForEveryManifest(nested);
        var ex = await PullFailsAsync(fake);
        Assert.Equal("NO_PLATFORM", ex.ErrorCode);
        Assert.Equal(1, ManifestRequests(fake));
    }
}
