using System.Collections.Concurrent;
using System.Net;
using Img.Content;
using Img.Oci;

namespace Img.Registry;

/// <summary>
/// The distribution protocol client: resolve, pull and push images, and log in and out. One instance
/// can serve a whole process; it keeps the scheme, auth challenge and tokens it learned per host.
/// </summary>
public sealed partial class RegistryClient
{
    /// <summary>Manifests larger than this are refused (containerd's limit) rather than read into memory.</summary>
    public const int MaxManifestSize = 4 << 20;

    private static readonly string[] s_manifestAccept =
    [
        MediaTypes.OciIndex, MediaTypes.DockerManifestList, MediaTypes.OciManifest, MediaTypes.DockerManifest,
        // Asked for only to recognise and refuse them clearly.
        MediaTypes.DockerSchema1SignedManifest, MediaTypes.DockerSchema1Manifest,
    ];

    private readonly ConcurrentDictionary<string, Lazy<Task<RegistryTransport>>> _transports = new(StringComparer.OrdinalIgnoreCase);

    public RegistryClient(RegistryOptions? options = null)
    {
        Options = options ?? new RegistryOptions();
        Hosts = new RegistryHosts(Options);
    }

    public RegistryOptions Options { get; }

    public RegistryHosts Hosts { get; }

    private Action<string>? Log => Options.Log;

    /// <summary>The descriptor a reference points at (HEAD, falling back to GET when the registry omits the digest).</summary>
    public async Task<Descriptor> ResolveAsync(Reference reference, CancellationToken ct = default)
    {
        var transport = await TransportAsync(reference.RegistryHost, null, ct).ConfigureAwait(false);
        var scopes = new List<string> { PullScope(reference.Path) };
        using (var head = await transport.SendAsync(new RequestSpec(HttpMethod.Head, ManifestPath(reference.Path, reference.Selector)) { Headers = h => AcceptManifests(h) }, scopes, ct).ConfigureAwait(false))
        {
            if (head.IsSuccessStatusCode
                && head.Content.Headers.ContentType?.MediaType is { } mt
                && head.Content.Headers.ContentLength is { } length
                && (reference.Digest ?? DigestHeader(head)) is { } digest)
            {
                if (MediaTypes.IsSchema1(mt)) throw Schema1(reference);
                if (MediaTypes.IsIndex(mt) || MediaTypes.IsManifest(mt))
                    return new Descriptor(mt, digest, length);
            }
            else if (!head.IsSuccessStatusCode && head.StatusCode != HttpStatusCode.MethodNotAllowed)
                await ThrowManifestErrorAsync(head, reference, transport, "pull", ct).ConfigureAwait(false);
        }
        return (await FetchManifestAsync(transport, reference, reference.Selector, reference.Digest, scopes, ct).ConfigureAwait(false)).Descriptor;
    }

    /// <summary>The manifest (or index) a reference points at, with its bytes exactly as served and verified.</summary>
    public async Task<FetchedManifest> FetchManifestAsync(Reference reference, CancellationToken ct = default)
    {
        var transport = await TransportAsync(reference.RegistryHost, null, ct).ConfigureAwait(false);
        return await FetchManifestAsync(transport, reference, reference.Selector, reference.Digest, [PullScope(reference.Path)], ct).ConfigureAwait(false);
    }

    internal async Task<FetchedManifest> FetchManifestAsync(RegistryTransport transport, Reference reference, string selector, Digest? expected, List<string> scopes, CancellationToken ct)
    {
        using var response = await transport.SendAsync(new RequestSpec(HttpMethod.Get, ManifestPath(reference.Path, selector)) { Headers = h => AcceptManifests(h) }, scopes, ct).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
            await ThrowManifestErrorAsync(response, reference, transport, "pull", ct).ConfigureAwait(false);
        if (response.Content.Headers.ContentLength > MaxManifestSize)
            throw new RegistryException($"{reference}: manifest larger than {MaxManifestSize} bytes");
        byte[] bytes;
        try { bytes = await RegistryErrors.ReadLimitedAsync(response.Content, MaxManifestSize, ct, Options).ConfigureAwait(false); }
        catch (RegistryException read) { throw new RegistryException($"{reference}: manifest: {read.Message}", inner: read); }
        var digest = Digest.Compute(bytes);
        if (expected is { } e && e != digest)
            throw new RegistryException($"{reference}: manifest digest mismatch: expected {e}, got {digest}", errorCode: "DIGEST_INVALID");
        if (expected is null && DigestHeader(response) is { Algorithm: "sha256" } served && served != digest)
            throw new RegistryException($"{reference}: manifest digest mismatch: registry says {served}, content is {digest}", errorCode: "DIGEST_INVALID");

        MediaTypeProbe probe;
        try { probe = OciJson.Deserialize<MediaTypeProbe>(bytes); }
        catch (FormatException ex) { throw new RegistryException($"{reference}: invalid manifest: {ex.Message}"); }
        string? header = response.Content.Headers.ContentType?.MediaType;
        string mediaType = header is not null && (MediaTypes.IsIndex(header) || MediaTypes.IsManifest(header) || MediaTypes.IsSchema1(header))
            ? header : probe.EffectiveMediaType;
        if (MediaTypes.IsSchema1(mediaType) || MediaTypes.IsSchema1(probe.EffectiveMediaType)) throw Schema1(reference);
        if (!MediaTypes.IsIndex(mediaType) && !MediaTypes.IsManifest(mediaType))
            throw new RegistryException($"{reference}: unsupported manifest media type \"{mediaType}\"");
        return new FetchedManifest(new Descriptor(mediaType, digest, bytes.Length), bytes);
    }

    /// <summary>
    /// Pulls an image into <paramref name="store"/>: the index (kept byte for byte), the manifest for
    /// <paramref name="platform"/> (host platform when null), its config and layers, each verified while it
    /// streams. Mirrors of the registry are tried first. Blobs already stored are not fetched again.
    /// </summary>
    public async Task<PullResult> PullAsync(Reference reference, Platform? platform, ContentStore store,
        IProgress<RegistryProgress>? progress = null, CancellationToken ct = default)
    {
        platform ??= Platform.Host;
        var order = Hosts.PullOrder(reference.Domain);
        foreach (var endpoint in order)
        {
            try
            {
                var transport = endpoint is null
                    ? await TransportAsync(reference.RegistryHost, null, ct).ConfigureAwait(false)
                    : await TransportAsync(endpoint.HostPort, endpoint, ct).ConfigureAwait(false);
                return await PullFromAsync(transport, reference, platform, store, progress, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (endpoint is not null && !ct.IsCancellationRequested && e is RegistryException or HttpRequestException or IOException)
            {
                Log?.Invoke($"mirror {endpoint} failed for {reference}: {e.Message}; trying the next source");
            }
        }
        throw new InvalidOperationException("unreachable: the origin is always the last pull source");
    }

    private async Task<PullResult> PullFromAsync(RegistryTransport transport, Reference reference, Platform platform, ContentStore store,
        IProgress<RegistryProgress>? progress, CancellationToken ct)
    {
        var scopes = new List<string> { PullScope(reference.Path) };
        progress?.Report(new RegistryProgress(RegistryProgressKind.Resolving, reference.ToString(), null, 0, 0));
        var top = await FetchManifestAsync(transport, reference, reference.Selector, reference.Digest, scopes, ct).ConfigureAwait(false);
        var manifest = top;
        Descriptor? chosen = null;
        if (MediaTypes.IsIndex(top.Descriptor.MediaType))
        {
            var index = ParseOrThrow<ImageIndex>(top.Bytes, reference);
            chosen = index.Manifests
                .Where(m => MediaTypes.IsManifest(m.MediaType) && platform.Matches(m.Platform))
                .OrderBy(m => platform.Rank(m.Platform!))
                .FirstOrDefault()
                ?? throw new RegistryException($"no matching manifest for {platform} in the manifest list entries of {reference}", errorCode: "NO_PLATFORM");
            manifest = await FetchManifestAsync(transport, reference, chosen.Digest.ToString(), chosen.Digest, scopes, ct).ConfigureAwait(false);
            if (manifest.Descriptor.Size != chosen.Size)
                throw new RegistryException($"{reference}: manifest {chosen.Digest} is {manifest.Descriptor.Size} bytes, the index says {chosen.Size}");
            if (!MediaTypes.IsManifest(manifest.Descriptor.MediaType))
                throw new RegistryException($"{reference}: index entry {chosen.Digest} is not an image manifest");
        }
        var image = ParseOrThrow<Manifest>(manifest.Bytes, reference);
        var blobs = new List<Descriptor> { image.Config };
        blobs.AddRange(image.Layers);
        var unique = blobs.DistinctBy(b => b.Digest).ToList();

        await Parallel.ForEachAsync(unique, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, Options.Parallelism), CancellationToken = ct },
            (blob, c) => new ValueTask(FetchBlobAsync(transport, reference, blob, store, progress, c))).ConfigureAwait(false);

        // Children before parents: the store never holds a manifest whose blobs are missing.
        await store.WriteBytesAsync(manifest.Bytes, manifest.Descriptor.MediaType, ct).ConfigureAwait(false);
        if (chosen is not null)
            await store.WriteBytesAsync(top.Bytes, top.Descriptor.MediaType, ct).ConfigureAwait(false);

        long size = manifest.Descriptor.Size + unique.Sum(b => b.Size) + (chosen is null ? 0 : top.Descriptor.Size);
        var manifestDescriptor = chosen is null ? manifest.Descriptor : manifest.Descriptor with { Platform = chosen.Platform, Annotations = chosen.Annotations };
        return new PullResult(top.Descriptor, manifestDescriptor, image.Config, size, transport.Endpoint);
    }

    private static T ParseOrThrow<T>(byte[] bytes, Reference reference)
    {
        try { return OciJson.Deserialize<T>(bytes); }
        catch (FormatException e) { throw new RegistryException($"{reference}: {e.Message}"); }
    }

    internal async Task<RegistryTransport> TransportAsync(string hostPort, RegistryEndpoint? endpoint, CancellationToken ct)
    {
        string key = endpoint?.ToString() ?? hostPort;
        var lazy = _transports.GetOrAdd(key, _ => new Lazy<Task<RegistryTransport>>(() =>
            RegistryTransport.ConnectAsync(Hosts, hostPort, endpoint, new RegistryAuth(Hosts, hostPort, c => StoredCredentialsAsync(hostPort, c)), ct)));
        try
        {
            return await lazy.Value.ConfigureAwait(false);
        }
        catch
        {
            _transports.TryRemove(new KeyValuePair<string, Lazy<Task<RegistryTransport>>>(key, lazy));
            throw;
        }
    }

    private async Task<Credentials?> StoredCredentialsAsync(string hostPort, CancellationToken ct)
    {
        if (Options.DockerConfig is not { } config) return null;
        var creds = await config.GetCredentialsAsync(ServerAddress.CredentialKey(hostPort), ct).ConfigureAwait(false);
        Log?.Invoke($"{hostPort}: {(creds is null ? "no stored credentials" : $"using stored credentials for {(creds.IdentityToken is null ? creds.Username : "an identity token")}")}");
        return creds;
    }

    internal static string PullScope(string repository) => $"repository:{repository}:pull";

    internal static string PushScope(string repository) => $"repository:{repository}:pull,push";

    private static string ManifestPath(string repository, string selector) => $"v2/{repository}/manifests/{selector}";

    private static string BlobPath(string repository, Digest digest) => $"v2/{repository}/blobs/{digest}";

    private static void AcceptManifests(System.Net.Http.Headers.HttpRequestHeaders headers)
    {
        foreach (var mt in s_manifestAccept) headers.Accept.ParseAdd(mt);
    }

    private static Digest? DigestHeader(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Docker-Content-Digest", out var values) && Digest.TryParse(values.FirstOrDefault(), out var d) ? d : null;

    private static RegistryException Schema1(Reference reference) =>
        new($"schema 1 manifests are not supported: {reference}", errorCode: "SCHEMA1");

    private static async Task ThrowManifestErrorAsync(HttpResponseMessage response, Reference reference, RegistryTransport transport, string action, CancellationToken ct)
    {
        var (code, message) = await RegistryErrors.ReadAsync(response, ct).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
            throw new ImageNotFoundException(reference.ToString());
        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            throw new RegistryAuthException(transport.HostPort,
                $"{action} access denied for {reference.Name}, repository does not exist or may require authorization: {message}", response.StatusCode, code);
        throw new RegistryException($"{reference}: {message}", response.StatusCode, code);
    }
}
