using System.Buffers;
using System.Net;
using Img.Content;
using Img.Oci;

namespace Img.Registry;

public sealed partial class RegistryClient
{
    private const int CopyBufferSize = 256 * 1024;

    /// <summary>
    /// Streams one blob into the store through a <see cref="BlobWriter"/> that hashes as it writes; a dropped
    /// connection resumes with a Range request (or starts over) up to <see cref="RegistryOptions.MaxAttempts"/>
    /// times. Nothing becomes visible unless digest and size match.
    /// </summary>
    private async Task FetchBlobAsync(RegistryTransport transport, Reference reference, Descriptor blob, ContentStore store,
        IProgress<RegistryProgress>? progress, CancellationToken ct)
    {
        string subject = blob.Digest.ToString();
        if (store.SizeOf(blob.Digest) == blob.Size)
        {
            progress?.Report(new RegistryProgress(RegistryProgressKind.Exists, subject, blob, blob.Size, blob.Size));
            return;
        }
        // The descriptor's size bounds the transfer; the ceiling bounds what a descriptor may declare.
        if (blob.Size > Options.MaxBlobSize)
            throw new RegistryException($"{reference.Name}: blob {blob.Digest} declares {blob.Size} bytes, more than the {Options.MaxBlobSize} img accepts ({InputLimits.MaxBlobSizeVariable})", errorCode: "SIZE_INVALID");
        var scopes = new List<string> { PullScope(reference.Path) };
        BlobWriter? writer = null;
        try
        {
            for (int attempt = 1; ; attempt++)
            {
                writer ??= store.CreateWriter();
                long offset = writer.Written;
                var spec = new RequestSpec(HttpMethod.Get, BlobPath(reference.Path, blob.Digest))
                {
                    Headers = h => { if (offset > 0) h.Range = new System.Net.Http.Headers.RangeHeaderValue(offset, null); },
                };
                string? failure;
                using (var response = await transport.SendAsync(spec, scopes, ct).ConfigureAwait(false))
                {
                    if (response.StatusCode == HttpStatusCode.NotFound)
                        throw new RegistryException($"{reference.Name}: blob {blob.Digest} not found", response.StatusCode, "BLOB_UNKNOWN");
                    if (!response.IsSuccessStatusCode)
                    {
                        var (code, message) = await RegistryErrors.ReadAsync(response, ct).ConfigureAwait(false);
                        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
                            throw new RegistryAuthException(transport.HostPort, $"pull access denied for {reference.Name}: {message}", response.StatusCode, code);
                        throw new RegistryException($"{reference.Name}: blob {blob.Digest}: {message}", response.StatusCode, code);
                    }
                    if (offset > 0 && response.StatusCode != HttpStatusCode.PartialContent)
                    {
                        // The server ignored the Range: begin again from the first byte.
                        await writer.DisposeAsync().ConfigureAwait(false);
                        writer = store.CreateWriter();
                    }
                    failure = await CopyBodyAsync(response, writer, blob, subject, progress, ct).ConfigureAwait(false);
                }
                if (failure is null && writer.Written < blob.Size)
                    failure = $"connection closed after {writer.Written} of {blob.Size} bytes";
                if (failure is null) break;
                if (attempt >= Math.Max(1, Options.MaxAttempts))
                    throw new RegistryException($"{reference.Name}: blob {blob.Digest}: transfer failed after {attempt} attempts: {failure}", errorCode: "TRANSFER_FAILED");
                Log?.Invoke($"blob {blob.Digest}: {failure}; resuming at byte {writer.Written} ({attempt}/{Options.MaxAttempts - 1})");
                progress?.Report(new RegistryProgress(RegistryProgressKind.Retrying, subject, blob, writer.Written, blob.Size));
                await Task.Delay(HttpRetry.Backoff(Options, attempt, null), ct).ConfigureAwait(false);
            }
            try
            {
                await writer.CommitAsync(blob.Digest, blob.Size, ct).ConfigureAwait(false);
            }
            catch (DigestMismatchException e)
            {
                throw new RegistryException($"{reference.Name}: blob {blob.Digest} from {transport.HostPort} failed verification: {e.Message}", errorCode: "DIGEST_INVALID", inner: e);
            }
            progress?.Report(new RegistryProgress(RegistryProgressKind.Done, subject, blob, blob.Size, blob.Size));
        }
        finally
        {
            if (writer is not null) await writer.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Copies the body; returns why it stopped early (a retryable failure), or null when it ended cleanly.</summary>
    private async Task<string?> CopyBodyAsync(HttpResponseMessage response, BlobWriter writer, Descriptor blob, string subject,
        IProgress<RegistryProgress>? progress, CancellationToken ct)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var lowSpeed = new LowSpeedLimit(Options);
        long lastReport = 0;
        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            while (true)
            {
                idle.CancelAfter(Options.ReadIdleTimeout);
                int n = await body.ReadAsync(buffer.AsMemory(0, CopyBufferSize), idle.Token).ConfigureAwait(false);
                if (n == 0) return null;
                if (writer.Written + n > blob.Size)
                    throw new RegistryException($"blob {blob.Digest} is larger than the {blob.Size} bytes its descriptor declares", errorCode: "SIZE_INVALID");
                await writer.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                if (lowSpeed.Add(n) is { } slow) return slow;
                if (progress is not null && writer.Written - lastReport >= (1 << 20))
                {
                    lastReport = writer.Written;
                    progress.Report(new RegistryProgress(RegistryProgressKind.Transferring, subject, blob, writer.Written, blob.Size));
                }
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return $"no data for {Options.ReadIdleTimeout.TotalSeconds:0}s";
        }
        catch (Exception e) when (e is IOException or HttpRequestException)
        {
            return e.Message;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
