using System.Net;
using System.Net.Http.Headers;
using Img.Content;
using Img.Oci;

namespace Img.Registry;

public sealed partial class RegistryClient
{
    /// <summary>
    /// Pushes the image rooted at <paramref name="root"/> (an index or a manifest in <paramref name="store"/>)
    /// to <paramref name="target"/>: blobs the registry lacks (checked with HEAD first; mounted from another
    /// repository when <paramref name="mountSources"/> names one), then the manifests, the root last under the
    /// reference's tag. Blobs stream from the store in parallel.
    /// </summary>
    /// <param name="mountSources">Other repositories on the same registry that may hold a blob, for cross-repository mounts.</param>
    public async Task<PushResult> PushAsync(Reference target, Descriptor root, ContentStore store,
        IProgress<RegistryProgress>? progress = null, Func<Digest, IEnumerable<string>>? mountSources = null, CancellationToken ct = default)
    {
        var manifests = new List<(Descriptor Descriptor, byte[] Bytes)>();
        var blobs = new Dictionary<Digest, Descriptor>();
        await CollectAsync(target, root, store, manifests, blobs, ct).ConfigureAwait(false);

        var transport = await TransportAsync(target.RegistryHost, null, ct).ConfigureAwait(false);
        int uploaded = 0, existing = 0, mounted = 0;
        await Parallel.ForEachAsync(blobs.Values, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, Options.Parallelism), CancellationToken = ct },
            async (blob, c) =>
            {
                var outcome = await PushBlobAsync(transport, target, blob, store, progress, mountSources, c).ConfigureAwait(false);
                _ = outcome switch
                {
                    RegistryProgressKind.Exists => Interlocked.Increment(ref existing),
                    RegistryProgressKind.Mounted => Interlocked.Increment(ref mounted),
                    _ => Interlocked.Increment(ref uploaded),
                };
            }).ConfigureAwait(false);

        // Manifests after their blobs, children before the index, the root last and under the tag.
        for (int i = 0; i < manifests.Count; i++)
        {
            var (descriptor, bytes) = manifests[i];
            bool isRoot = i == manifests.Count - 1;
            string selector = isRoot ? target.Tag ?? descriptor.Digest.ToString() : descriptor.Digest.ToString();
            await PutManifestAsync(transport, target, selector, descriptor, bytes, ct).ConfigureAwait(false);
            progress?.Report(new RegistryProgress(RegistryProgressKind.Done, descriptor.Digest.ToString(), descriptor, descriptor.Size, descriptor.Size));
        }
        return new PushResult(root, uploaded, existing, mounted);
    }

    private static async Task CollectAsync(Reference target, Descriptor descriptor, ContentStore store,
        List<(Descriptor, byte[])> manifests, Dictionary<Digest, Descriptor> blobs, CancellationToken ct)
    {
        if (manifests.Any(m => m.Item1.Digest == descriptor.Digest)) return;
        byte[] bytes;
        try { bytes = await store.ReadAllBytesAsync(descriptor.Digest, ct).ConfigureAwait(false); }
        catch (BlobNotFoundException)
        {
            string what = descriptor.Platform is { } p ? $"manifest {descriptor.Digest} ({p})" : $"{descriptor.Digest}";
            throw new RegistryException($"cannot push {target}: {what} is not in the local store");
        }
        if (bytes.Length != descriptor.Size || Digest.Compute(bytes) != descriptor.Digest)
            throw new RegistryException($"cannot push {target}: stored {descriptor.Digest} does not match its descriptor");
        string mediaType = descriptor.MediaType.Length > 0 ? descriptor.MediaType : OciJson.Deserialize<MediaTypeProbe>(bytes).EffectiveMediaType;
        var withType = descriptor with { MediaType = mediaType };
        if (MediaTypes.IsIndex(mediaType))
        {
            foreach (var child in OciJson.Deserialize<ImageIndex>(bytes).Manifests)
                await CollectAsync(target, child, store, manifests, blobs, ct).ConfigureAwait(false);
        }
        else if (MediaTypes.IsManifest(mediaType))
        {
            var manifest = OciJson.Deserialize<Manifest>(bytes);
            foreach (var blob in manifest.Layers.Prepend(manifest.Config))
            {
                if (store.SizeOf(blob.Digest) is { } stored && stored != blob.Size)
                    throw new RegistryException($"cannot push {target}: {store.Discard(blob.Digest, $"{stored} bytes where the manifest says {blob.Size}").Message}");
                if (store.SizeOf(blob.Digest) != blob.Size)
                {
                    // Foreign layers (with URLs) live elsewhere by design; everything else must be here.
                    if (blob.Urls is { Count: > 0 }) continue;
                    throw new RegistryException($"cannot push {target}: blob {blob.Digest} ({blob.MediaType}) is not in the local store");
                }
                blobs.TryAdd(blob.Digest, blob);
            }
        }
        else
        {
            throw new RegistryException($"cannot push {target}: {descriptor.Digest} has unsupported media type \"{mediaType}\"");
        }
        manifests.Add((withType, bytes));
    }

    private async Task<RegistryProgressKind> PushBlobAsync(RegistryTransport transport, Reference target, Descriptor blob, ContentStore store,
        IProgress<RegistryProgress>? progress, Func<Digest, IEnumerable<string>>? mountSources, CancellationToken ct)
    {
        string repo = target.Path;
        string subject = blob.Digest.ToString();
        var scopes = new List<string> { PushScope(repo) };
        using (var head = await transport.SendAsync(new RequestSpec(HttpMethod.Head, BlobPath(repo, blob.Digest)), scopes, ct).ConfigureAwait(false))
        {
            if (head.IsSuccessStatusCode)
            {
                progress?.Report(new RegistryProgress(RegistryProgressKind.Exists, subject, blob, blob.Size, blob.Size));
                return RegistryProgressKind.Exists;
            }
            if (head.StatusCode != HttpStatusCode.NotFound)
                await ThrowPushErrorAsync(head, target, transport, $"blob {blob.Digest}", ct).ConfigureAwait(false);
        }

        Uri? location = null;
        long? chunkMin = null;
        foreach (var from in mountSources?.Invoke(blob.Digest) ?? [])
        {
            if (from == repo || string.IsNullOrEmpty(from)) continue;
            var mountScopes = new List<string> { PushScope(repo), PullScope(from) };
            using var mount = await transport.SendAsync(new RequestSpec(HttpMethod.Post,
                $"v2/{repo}/blobs/uploads/?mount={Uri.EscapeDataString(blob.Digest.ToString())}&from={Uri.EscapeDataString(from)}"), mountScopes, ct).ConfigureAwait(false);
            if (mount.StatusCode == HttpStatusCode.Created)
            {
                Log?.Invoke($"blob {blob.Digest}: mounted from {from}");
                progress?.Report(new RegistryProgress(RegistryProgressKind.Mounted, subject, blob, blob.Size, blob.Size));
                return RegistryProgressKind.Mounted;
            }
            if (mount.StatusCode == HttpStatusCode.Accepted && mount.Headers.Location is { } l)
            {
                // The registry could not mount and opened an ordinary upload instead.
                location = new Uri(mount.RequestMessage!.RequestUri!, l);
                chunkMin = ChunkMinimum(mount);
                break;
            }
        }

        for (int attempt = 1; ; attempt++)
        {
            try
            {
                if (location is null)
                {
                    using var start = await transport.SendAsync(new RequestSpec(HttpMethod.Post, $"v2/{repo}/blobs/uploads/")
                    { Content = _ => new ByteArrayContent([]) }, scopes, ct).ConfigureAwait(false);
                    if (start.StatusCode != HttpStatusCode.Accepted || start.Headers.Location is null)
                        await ThrowPushErrorAsync(start, target, transport, $"starting upload of {blob.Digest}", ct).ConfigureAwait(false);
                    location = new Uri(start.RequestMessage!.RequestUri!, start.Headers.Location!);
                    chunkMin = ChunkMinimum(start);
                }
                long? chunk = Options.ChunkSize is > 0 || chunkMin is > 0 ? Math.Max(Options.ChunkSize ?? 0, chunkMin ?? 0) : null;
                if (chunk is { } size && size < blob.Size)
                    await UploadChunkedAsync(transport, target, blob, store, location, size, progress, scopes, ct).ConfigureAwait(false);
                else
                    await UploadMonolithicAsync(transport, target, blob, store, location, progress, scopes, ct).ConfigureAwait(false);
                progress?.Report(new RegistryProgress(RegistryProgressKind.Done, subject, blob, blob.Size, blob.Size));
                return RegistryProgressKind.Done;
            }
            catch (RegistryException e) when (attempt < Math.Max(1, Options.MaxAttempts) && IsRetryableUpload(e) && !ct.IsCancellationRequested)
            {
                // An upload session does not survive a failure: open a new one.
                Log?.Invoke($"blob {blob.Digest}: upload failed ({e.Message}); retrying ({attempt}/{Options.MaxAttempts - 1})");
                progress?.Report(new RegistryProgress(RegistryProgressKind.Retrying, subject, blob, 0, blob.Size));
                location = null;
                await Task.Delay(HttpRetry.Backoff(Options, attempt, null), ct).ConfigureAwait(false);
            }
        }
    }

    private async Task UploadMonolithicAsync(RegistryTransport transport, Reference target, Descriptor blob, ContentStore store, Uri location,
        IProgress<RegistryProgress>? progress, List<string> scopes, CancellationToken ct)
    {
        var spec = new RequestSpec(HttpMethod.Put, WithDigest(location, blob.Digest).ToString())
        {
            Retry = false,
            Content = touch => Body(store, blob, 0, blob.Size, progress, touch),
        };
        HttpResponseMessage response;
        try { response = await transport.SendAsync(spec, scopes, ct).ConfigureAwait(false); }
        catch (Exception e) when (Damaged(e) is { } damaged)
        {
            // The stored blob failed its digest on the way out (and is gone): the upload is void, not retryable.
            throw new RegistryException($"cannot push {target}: {damaged.Message}", errorCode: "BLOB_DAMAGED", inner: damaged);
        }
        using (response)
        {
            if (response.StatusCode != HttpStatusCode.Created)
                await ThrowPushErrorAsync(response, target, transport, $"uploading blob {blob.Digest}", ct).ConfigureAwait(false);
        }
    }

    private static CorruptBlobException? Damaged(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
            if (e is CorruptBlobException c) return c;
        return null;
    }

    private async Task UploadChunkedAsync(RegistryTransport transport, Reference target, Descriptor blob, ContentStore store, Uri location,
        long chunkSize, IProgress<RegistryProgress>? progress, List<string> scopes, CancellationToken ct)
    {
        Log?.Invoke($"blob {blob.Digest}: uploading in {(blob.Size + chunkSize - 1) / chunkSize} chunks of {chunkSize} bytes");
        for (long offset = 0; offset < blob.Size;)
        {
            long length = Math.Min(chunkSize, blob.Size - offset);
            long start = offset;
            var spec = new RequestSpec(new HttpMethod("PATCH"), location.ToString())
            {
                Retry = false,
                Content = touch =>
                {
                    var content = Body(store, blob, start, length, progress, touch);
                    content.Headers.TryAddWithoutValidation("Content-Range", $"{start}-{start + length - 1}");
                    return content;
                },
            };
            using var response = await transport.SendAsync(spec, scopes, ct).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.Accepted)
                await ThrowPushErrorAsync(response, target, transport, $"uploading chunk {start}-{start + length - 1} of {blob.Digest}", ct).ConfigureAwait(false);
            if (response.Headers.Location is { } next) location = new Uri(response.RequestMessage!.RequestUri!, next);
            offset += length;
        }
        var finish = new RequestSpec(HttpMethod.Put, WithDigest(location, blob.Digest).ToString())
        {
            Retry = false,
            Content = _ => new ByteArrayContent([]),
        };
        using var done = await transport.SendAsync(finish, scopes, ct).ConfigureAwait(false);
        if (done.StatusCode != HttpStatusCode.Created)
            await ThrowPushErrorAsync(done, target, transport, $"completing upload of {blob.Digest}", ct).ConfigureAwait(false);
    }

    private static HttpContent Body(ContentStore store, Descriptor blob, long offset, long length, IProgress<RegistryProgress>? progress, Action touch)
    {
        // A whole blob is checked against its digest as it goes out; a chunk of one cannot be.
        Stream file = offset == 0 && length == blob.Size ? store.OpenRead(blob.Digest) : store.OpenRange(blob.Digest, offset);
        long lastReport = 0;
        var stream = new ProgressStream(file, length, read =>
        {
            touch();
            if (progress is null || (read - lastReport < (1 << 20) && read != length)) return;
            lastReport = read;
            progress.Report(new RegistryProgress(RegistryProgressKind.Transferring, blob.Digest.ToString(), blob, offset + read, blob.Size));
        });
        var content = new StreamContent(stream, CopyBufferSize);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        content.Headers.ContentLength = length;
        return content;
    }

    private async Task PutManifestAsync(RegistryTransport transport, Reference target, string selector, Descriptor descriptor, byte[] bytes, CancellationToken ct)
    {
        var spec = new RequestSpec(HttpMethod.Put, ManifestPath(target.Path, selector))
        {
            Content = _ =>
            {
                var content = new ByteArrayContent(bytes);
                content.Headers.ContentType = new MediaTypeHeaderValue(descriptor.MediaType);
                return content;
            },
        };
        using var response = await transport.SendAsync(spec, [PushScope(target.Path)], ct).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Created)
            await ThrowPushErrorAsync(response, target, transport, $"pushing manifest {descriptor.Digest}", ct).ConfigureAwait(false);
        if (DigestHeader(response) is { } served && served != descriptor.Digest)
            throw new RegistryException($"{target}: registry stored manifest as {served}, expected {descriptor.Digest}", errorCode: "DIGEST_INVALID");
    }

    private static Uri WithDigest(Uri location, Digest digest)
    {
        var builder = new UriBuilder(location);
        string query = builder.Query.TrimStart('?');
        builder.Query = (query.Length > 0 ? query + "&" : "") + "digest=" + Uri.EscapeDataString(digest.ToString());
        return builder.Uri;
    }

    private static long? ChunkMinimum(HttpResponseMessage response) =>
        response.Headers.TryGetValues("OCI-Chunk-Min-Length", out var values) && long.TryParse(values.FirstOrDefault(), out var n) && n > 0 ? n : null;

    private static bool IsRetryableUpload(RegistryException e) =>
        e is not RegistryAuthException
        && (e.StatusCode is null ? e.InnerException is HttpRequestException or IOException : RegistryErrors.IsTransient(e.StatusCode.Value) || e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode == "BLOB_UPLOAD_UNKNOWN");

    private static async Task ThrowPushErrorAsync(HttpResponseMessage response, Reference target, RegistryTransport transport, string what, CancellationToken ct)
    {
        var (code, message) = await RegistryErrors.ReadAsync(response, ct).ConfigureAwait(false);
        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            throw new RegistryAuthException(transport.HostPort, $"push access denied for {target.Name}: {message}", response.StatusCode, code);
        throw new RegistryException($"{target}: {what}: {message}", response.StatusCode, code);
    }
}
