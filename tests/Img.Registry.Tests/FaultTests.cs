using System.Diagnostics;
using System.Net;
using System.Text;
using Img.Oci;
using Img.TestSupport;

namespace Img.Registry.Tests;

/// <summary>Faults served by <see cref="FakeRegistry"/>: the client must verify, retry, and fail clearly.</summary>
public sealed class FaultTests : IDisposable
{
    private readonly Scratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    /// <summary>A one-blob image: the manifest's config is <paramref name="blob"/>.</summary>
    private static (byte[] Manifest, Descriptor Blob) ImageOf(byte[] blob)
    {
        var descriptor = new Descriptor(MediaTypes.OciConfig, Digest.Compute(blob), blob.Length);
        return (OciJson.Serialize(new Manifest { MediaType = MediaTypes.OciManifest, Config = descriptor, Layers = [] }), descriptor);
    }

    /// <summary>Serves /v2/, the manifest for any tag, and hands blob requests to <paramref name="blob"/>.</summary>
    private static FakeRegistry Serve(byte[] manifest, Func<HttpListenerContext, int, Task> blob, Func<HttpListenerContext, int, bool>? manifestFault = null)
    {
        int blobCalls = 0, manifestCalls = 0;
        return FakeRegistry.Start(async ctx =>
        {
            string path = ctx.Request.Url!.AbsolutePath;
            if (path == "/v2/") FakeRegistry.Reply(ctx, 200);
            else if (path.Contains("/manifests/"))
            {
                int n = Interlocked.Increment(ref manifestCalls);
                if (manifestFault?.Invoke(ctx, n) == true) return;
                FakeRegistry.Reply(ctx, 200, manifest, MediaTypes.OciManifest);
            }
            else if (path.Contains("/blobs/")) await blob(ctx, Interlocked.Increment(ref blobCalls));
            else FakeRegistry.Reply(ctx, 404);
        });
    }

    [Fact]
    public async Task A_blob_with_the_wrong_digest_is_rejected_and_not_stored()
    {
        var (manifest, blob) = ImageOf(Encoding.UTF8.GetBytes("the real config bytes"));
        await using var fake = Serve(manifest, (ctx, _) =>
        {
            FakeRegistry.Reply(ctx, 200, Encoding.UTF8.GetBytes("the fake config bytes"));
            return Task.CompletedTask;
        });
        var ex = await Assert.ThrowsAsync<RegistryException>(() =>
            _scratch.Client().PullAsync(Reference.Parse($"{fake.HostPort}/x/y:1"), null, _scratch.Store));
        Assert.Equal("DIGEST_INVALID", ex.ErrorCode);
        Assert.Contains($"blob {blob.Digest}", ex.Message);
        Assert.Contains("failed verification", ex.Message);
        Assert.Empty(_scratch.Store.List());
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_scratch.Store.Root, "ingest")));
    }

    [Fact]
    public async Task A_connection_dropped_mid_blob_is_resumed_with_Range()
    {
        byte[] data = TestImages.Random(600_000);
        var (manifest, blob) = ImageOf(data);
        await using var fake = Serve(manifest, (ctx, call) =>
        {
            if (call <= 2)
            {
                FakeRegistry.ReplyAndDrop(ctx, data, 100_000 * call);
                return Task.CompletedTask;
            }
            long from = ctx.Request.Headers["Range"] is { } r ? long.Parse(r["bytes=".Length..].TrimEnd('-')) : 0;
            FakeRegistry.Reply(ctx, from > 0 ? 206 : 200, data[(int)from..], headers: ("Content-Range", $"bytes {from}-{data.Length - 1}/{data.Length}"));
            return Task.CompletedTask;
        });
        await _scratch.Client().PullAsync(Reference.Parse($"{fake.HostPort}/x/y:1"), null, _scratch.Store);
        Assert.Equal(data, await _scratch.Store.ReadAllBytesAsync(blob.Digest));
        Assert.Contains(fake.Requests, r => r.Range is not null);
    }

    [Fact]
    public async Task A_blob_that_always_drops_fails_after_the_retries_and_leaves_nothing()
    {
        byte[] data = TestImages.Random(300_000);
        var (manifest, blob) = ImageOf(data);
        await using var fake = Serve(manifest, (ctx, _) =>
        {
            // Ignores Range and always drops: every attempt starts from zero.
            FakeRegistry.ReplyAndDrop(ctx, data, 1000);
            return Task.CompletedTask;
        });
        var ex = await Assert.ThrowsAsync<RegistryException>(() =>
            _scratch.Client().PullAsync(Reference.Parse($"{fake.HostPort}/x/y:1"), null, _scratch.Store));
        Assert.Contains($"blob {blob.Digest}: transfer failed after 4 attempts", ex.Message);
        Assert.Equal(4, fake.Requests.Count(r => r.Path.Contains("/blobs/")));
        Assert.Empty(_scratch.Store.List());
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_scratch.Store.Root, "ingest")));
    }

    [Fact]
    public async Task Server_errors_and_429_are_retried_honouring_Retry_After()
    {
        byte[] data = Encoding.UTF8.GetBytes("{}");
        var (manifest, _) = ImageOf(data);
        await using var fake = Serve(manifest, (ctx, call) =>
        {
            if (call == 1) FakeRegistry.Reply(ctx, 500, Encoding.UTF8.GetBytes("""{"errors":[{"code":"UNKNOWN","message":"boom"}]}"""));
            else FakeRegistry.Reply(ctx, 200, data);
            return Task.CompletedTask;
        }, (ctx, call) =>
        {
            if (call > 1) return false;
            FakeRegistry.Reply(ctx, 429, headers: ("Retry-After", "1"));
            return true;
        });
        var watch = Stopwatch.StartNew();
        await _scratch.Client().PullAsync(Reference.Parse($"{fake.HostPort}/x/y:1"), null, _scratch.Store);
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(900), $"Retry-After ignored: {watch.Elapsed}");
        Assert.Equal(2, fake.Requests.Count(r => r.Path.Contains("/manifests/")));
        Assert.Equal(2, fake.Requests.Count(r => r.Path.Contains("/blobs/")));
    }

    [Fact]
    public async Task A_redirect_to_another_host_does_not_carry_the_credentials()
    {
        byte[] data = TestImages.Random(50_000);
        var (manifest, blob) = ImageOf(data);
        await using var storage = FakeRegistry.Start(ctx => { FakeRegistry.Reply(ctx, 200, data); return Task.CompletedTask; }, "127.0.0.2");
        string basic = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("carol:pw"));
        await using var fake = FakeRegistry.Start(ctx =>
        {
            string path = ctx.Request.Url!.AbsolutePath;
            if (ctx.Request.Headers["Authorization"] != basic)
                FakeRegistry.Reply(ctx, 401, headers: ("WWW-Authenticate", "Basic realm=\"fake\""));
            else if (path == "/v2/") FakeRegistry.Reply(ctx, 200);
            else if (path.Contains("/manifests/")) FakeRegistry.Reply(ctx, 200, manifest, MediaTypes.OciManifest);
            else FakeRegistry.Reply(ctx, 307, headers: ("Location", $"http://{storage.HostPort}/storage/{blob.Digest.Hex}?sig=abc"));
            return Task.CompletedTask;
        });
        await new DockerConfig(_scratch.DockerConfigDir).StoreCredentialsAsync(fake.HostPort, new Credentials("carol", "pw"));
        await _scratch.Client().PullAsync(Reference.Parse($"{fake.HostPort}/x/y:1"), null, _scratch.Store);

        Assert.Equal(data, await _scratch.Store.ReadAllBytesAsync(blob.Digest));
        var stored = Assert.Single(storage.Requests);
        Assert.Null(stored.Authorization);
        Assert.Contains(fake.Requests, r => r.Path.Contains("/blobs/") && r.Authorization == basic);
    }

    [Fact]
    public async Task An_unreachable_registry_fails_within_seconds()
    {
        int closedPort = FreePort.Pick();
        var watch = Stopwatch.StartNew();
        var refused = await Assert.ThrowsAsync<RegistryException>(() =>
            _scratch.Client().PullAsync(Reference.Parse($"127.0.0.1:{closedPort}/x/y:1"), null, _scratch.Store));
        Assert.StartsWith($"cannot reach registry 127.0.0.1:{closedPort}", refused.Message);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"took {watch.Elapsed}");

        // A host that accepts the connection and then never says a word: bounded by the connect timeout
        // (which covers the TLS handshake), not a hang.
        var silentListener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        silentListener.Start();
        try
        {
            int silentPort = ((IPEndPoint)silentListener.LocalEndpoint).Port;
            watch.Restart();
            var silent = await Assert.ThrowsAsync<RegistryException>(() =>
                _scratch.Client(tweak: o => o with { ConnectTimeout = TimeSpan.FromSeconds(2), MaxAttempts = 2 })
                    .ResolveAsync(Reference.Parse($"127.0.0.1:{silentPort}/x/y:1")));
            Assert.Equal($"cannot reach registry 127.0.0.1:{silentPort}: connection timed out", silent.Message);
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
        }
        finally
        {
            silentListener.Stop();
        }
    }

    [Fact]
    public async Task A_registry_that_never_answers_a_request_times_out_instead_of_hanging()
    {
        await using var fake = FakeRegistry.Start(async ctx =>
        {
            if (ctx.Request.Url!.AbsolutePath == "/v2/") FakeRegistry.Reply(ctx, 200);
            else await Task.Delay(TimeSpan.FromSeconds(30));
        });
        var watch = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<RegistryException>(() =>
            _scratch.Client(tweak: o => o with { ResponseTimeout = TimeSpan.FromSeconds(1), MaxAttempts = 2 })
                .PullAsync(Reference.Parse($"{fake.HostPort}/x/y:1"), null, _scratch.Store));
        Assert.Contains($"no response from {fake.HostPort} within 1s", ex.Message);
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(1.8), TimeSpan.FromSeconds(8));
    }

    /// <summary>A registry that accepts pushes; <paramref name="putFault"/> may answer a blob PUT itself.</summary>
    private static FakeRegistry PushTarget(Func<HttpListenerContext, int, bool>? putFault = null, long? chunkMin = null)
    {
        int puts = 0, sessions = 0;
        var received = new System.Collections.Concurrent.ConcurrentDictionary<string, MemoryStream>();
        return FakeRegistry.Start(async ctx =>
        {
            string path = ctx.Request.Url!.AbsolutePath;
            string method = ctx.Request.HttpMethod;
            if (path == "/v2/") FakeRegistry.Reply(ctx, 200);
            else if (method == "HEAD") FakeRegistry.Reply(ctx, 404);
            else if (method == "POST")
            {
                string id = $"session{Interlocked.Increment(ref sessions)}";
                received[id] = new MemoryStream();
                var headers = new List<(string, string)> { ("Location", $"/v2/x/y/blobs/uploads/{id}?_state=abc"), ("Range", "0-0") };
                if (chunkMin is { } m) headers.Add(("OCI-Chunk-Min-Length", m.ToString()));
                FakeRegistry.Reply(ctx, 202, headers: headers.ToArray());
            }
            else if (method == "PATCH")
            {
                var buffer = received[path.Split('/').Last()];
                await ctx.Request.InputStream.CopyToAsync(buffer);
                FakeRegistry.Reply(ctx, 202, headers: [("Location", path + "?_state=next"), ("Range", $"0-{buffer.Length - 1}")]);
            }
            else if (method == "PUT" && path.Contains("/blobs/uploads/"))
            {
                if (putFault?.Invoke(ctx, Interlocked.Increment(ref puts)) == true) return;
                var buffer = received[path.Split('/').Last()];
                await ctx.Request.InputStream.CopyToAsync(buffer);
                string digest = ctx.Request.QueryString["digest"]!;
                bool ok = Digest.Compute(buffer.ToArray()).ToString() == digest && ctx.Request.QueryString["_state"] is not null;
                FakeRegistry.Reply(ctx, ok ? 201 : 400, ok ? null : Encoding.UTF8.GetBytes("""{"errors":[{"code":"DIGEST_INVALID","message":"digest did not match"}]}"""));
            }
            else if (method == "PUT") FakeRegistry.Reply(ctx, 201);
            else FakeRegistry.Reply(ctx, 404);
        });
    }

    [Fact]
    public async Task A_failed_blob_upload_is_retried_in_a_new_session()
    {
        await using var fake = PushTarget(putFault: (ctx, n) =>
        {
            if (n > 1) return false;
            ctx.Request.InputStream.CopyTo(Stream.Null);
            FakeRegistry.Reply(ctx, 503);
            return true;
        });
        var image = await TestImages.CreateAsync(_scratch.Store, "amd64", TestImages.Random(1000));
        var client = _scratch.Client(tweak: o => o with { Parallelism = 1 });
        var result = await client.PushAsync(Reference.Parse($"{fake.HostPort}/x/y:1"), image.Manifest, _scratch.Store);
        Assert.Equal(2, result.Uploaded);
        Assert.Equal(3, fake.Requests.Count(r => r.Method == "POST"));
        Assert.Equal(1, fake.Requests.Count(r => r.Method == "PUT" && r.Path.EndsWith("/manifests/1", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_registry_asking_for_chunks_gets_PATCH_uploads()
    {
        await using var fake = PushTarget(chunkMin: 1000);
        var image = await TestImages.CreateAsync(_scratch.Store, "amd64", TestImages.Random(2500));
        await _scratch.Client().PushAsync(Reference.Parse($"{fake.HostPort}/x/y:1"), image.Manifest, _scratch.Store);
        long layerSize = image.Layers[0].Size;
        Assert.Equal((int)((layerSize + 999) / 1000), fake.Requests.Count(r => r.Method == "PATCH"));
    }

    [Fact]
    public async Task A_schema_1_manifest_is_refused_clearly()
    {
        byte[] schema1 = Encoding.UTF8.GetBytes("""{"schemaVersion":1,"name":"x/y","tag":"old","architecture":"amd64","fsLayers":[],"history":[]}""");
        await using var fake = FakeRegistry.Start(ctx =>
        {
            if (ctx.Request.Url!.AbsolutePath == "/v2/") FakeRegistry.Reply(ctx, 200);
            else FakeRegistry.Reply(ctx, 200, schema1, MediaTypes.DockerSchema1SignedManifest);
            return Task.CompletedTask;
        });
        var reference = Reference.Parse($"{fake.HostPort}/x/y:old");
        var ex = await Assert.ThrowsAsync<RegistryException>(() => _scratch.Client().PullAsync(reference, null, _scratch.Store));
        Assert.Equal($"schema 1 manifests are not supported: {reference}", ex.Message);
        Assert.Empty(_scratch.Store.List());
    }

    [Fact]
    public async Task A_plain_url_follows_redirects_and_stops_after_ten()
    {
        await using var fake = FakeRegistry.Start(ctx =>
        {
            var path = ctx.Request.Url!.AbsolutePath;
            if (path == "/file") FakeRegistry.Reply(ctx, 200, Encoding.UTF8.GetBytes("body"));
            else if (path.StartsWith("/hop/", StringComparison.Ordinal) && int.Parse(path[5..]) is var n and > 0)
                FakeRegistry.Reply(ctx, 302, null, null, ("Location", $"/hop/{n - 1}"));
            else if (path == "/hop/0") FakeRegistry.Reply(ctx, 307, null, null, ("Location", "/file"));
            else FakeRegistry.Reply(ctx, 404);
            return Task.CompletedTask;
        });
        var client = _scratch.Client();
        using (var response = await client.GetUrlAsync(new Uri($"http://{fake.HostPort}/hop/3")))
            Assert.Equal("body", await response.Content.ReadAsStringAsync());
        using (var tooMany = await client.GetUrlAsync(new Uri($"http://{fake.HostPort}/hop/20")))
            Assert.Equal(HttpStatusCode.Found, tooMany.StatusCode);
        // 5 for the first (3, 2, 1, 0, file); 11 for the second: the URL and ten redirects, the last one returned.
        Assert.Equal(16, fake.Requests.Count);
        Assert.Equal("/hop/10", fake.Requests.Last().Path);
    }
}
