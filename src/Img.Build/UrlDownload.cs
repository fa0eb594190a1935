using System.Security.Cryptography;
using Img.Content;
using Img.Oci;
using Img.Registry;

namespace Img.Build;

/// <summary>
/// The body of <c>ADD http(s)://…</c>, fetched into a private temp file of the content store's ingest
/// directory (so a killed build's partial download is removed by the next img command) and hashed on the way.
/// Bounded as a pull's blobs are: by <see cref="InputLimits.MaxBlobSize"/>, by the idle timeout and by the
/// low-speed rule, so an endless or dripping body fails instead of filling the disk or running forever. It goes
/// through the build's one <see cref="RegistryClient"/>: the same TLS trust as the registries (<c>SSL_CERT_FILE</c>,
/// <c>certs.d</c>), the same timeouts, the <c>-d</c> log.
/// </summary>
internal static class UrlDownload
{
    /// <summary>Fetches <paramref name="url"/> through the build's registry client, so its TLS trust, timeouts and debug log apply.</summary>
    public static async Task<(string File, Digest Digest)> FetchAsync(ContentStore content, InputLimits limits, RegistryClient registry,
        string url, string? checksum, CancellationToken ct)
    {
        var transfer = registry.Options;
        var file = content.NewTempPath("download");
        try
        {
            using var response = await registry.GetUrlAsync(new Uri(url), ct).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
                throw new BuildFailedException($"failed to load cache key: invalid response status {(int)response.StatusCode}");
            if (response.Content.Headers.ContentLength > limits.MaxBlobSize)
                throw TooLarge(url, limits, $"the body declares {response.Content.Headers.ContentLength} bytes");
            Digest digest;
            var body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            await using (body.ConfigureAwait(false))
            {
                var fs = new FileStream(file, FileMode.CreateNew, FileAccess.Write);
                await using (fs.ConfigureAwait(false))
                {
                    using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                    using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    var lowSpeed = new LowSpeedLimit(transfer);
                    var buf = new byte[1 << 16];
                    long total = 0;
                    while (true)
                    {
                        idle.CancelAfter(transfer.ReadIdleTimeout);
                        int n;
                        try { n = await body.ReadAsync(buf, idle.Token).ConfigureAwait(false); }
                        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                        {
                            throw new BuildFailedException($"{url}: no data for {transfer.ReadIdleTimeout.TotalSeconds:0}s");
                        }
                        if (n == 0) break;
                        total += n;
                        if (total > limits.MaxBlobSize) throw TooLarge(url, limits, "the body goes on past the limit");
                        sha.AppendData(buf, 0, n);
                        await fs.WriteAsync(buf.AsMemory(0, n), ct).ConfigureAwait(false);
                        if (lowSpeed.Add(n) is { } slow) throw new BuildFailedException($"{url}: {slow}");
                    }
                    digest = Digest.FromSha256(sha.GetHashAndReset());
                }
            }
            if (checksum is not null)
            {
                if (!Digest.TryParse(checksum, out var expected))
                    throw new BuildFailedException($"invalid checksum digest format: {checksum}");
                if (expected.Algorithm != "sha256")
                    throw new BuildFailedException($"unsupported digest algorithm {expected.Algorithm}");
                if (expected != digest)
                    throw new BuildFailedException($"digest mismatch {digest}: {expected}");
            }
            return (file, digest);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or RegistryException || e is OperationCanceledException && !ct.IsCancellationRequested)
        {
            File.Delete(file);
            throw new BuildFailedException($"{url}: {(e is OperationCanceledException ? $"no response within {transfer.ResponseTimeout.TotalSeconds:0}s" : e.Message)}", e);
        }
        catch
        {
            File.Delete(file);
            throw;
        }
    }

    private static BuildFailedException TooLarge(string url, InputLimits limits, string what) =>
        new($"{url}: {what}: img downloads at most {limits.MaxBlobSize} bytes ({InputLimits.MaxBlobSizeVariable})");
}
