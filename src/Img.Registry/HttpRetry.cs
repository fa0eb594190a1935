using System.Net;

namespace Img.Registry;

/// <summary>
/// Sends one request with a time limit on the response headers, retrying network failures, 429 and 5xx
/// with exponential backoff that honours <c>Retry-After</c>. The request is rebuilt for each attempt.
/// The time limit restarts whenever the request body makes progress (the body calls the <c>touch</c>
/// action it is given), so a large upload is bounded by stalls, not by its size.
/// </summary>
internal static class HttpRetry
{
    public static async Task<HttpResponseMessage> SendAsync(
        HttpClient client, RegistryOptions options, Func<Action, HttpRequestMessage> make, bool retry, CancellationToken ct,
        string hostPort, TlsTrust? trust = null)
    {
        int attempts = retry ? Math.Max(1, options.MaxAttempts) : 1;
        for (int attempt = 1; ; attempt++)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(options.ResponseTimeout);
            using var request = make(() => timeout.CancelAfter(options.ResponseTimeout));
            int rejectionsBefore = trust?.Rejections ?? 0;
            var uri = request.RequestUri!;
            HttpResponseMessage response;
            try
            {
                response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (!ct.IsCancellationRequested && e is HttpRequestException or IOException or OperationCanceledException)
            {
                if (e is OperationCanceledException && e.InnerException is not TimeoutException)
                {
                    // Our own limit, not the connect timeout: the server took the request and went quiet.
                    if (attempt >= attempts)
                        throw new RegistryException($"{request.Method} {uri.GetLeftPart(UriPartial.Path)}: no response from {hostPort} within {options.ResponseTimeout.TotalSeconds:0.#}s", inner: e);
                    options.Log?.Invoke($"{request.Method} {uri.GetLeftPart(UriPartial.Path)}: no response within {options.ResponseTimeout.TotalSeconds:0.#}s; retrying ({attempt}/{attempts - 1})");
                    continue;
                }
                string? rejection = trust is not null && trust.Rejections != rejectionsBefore ? trust.LastRejection : null;
                bool unreachable = e is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError }
                    || e is OperationCanceledException { InnerException: TimeoutException };
                // A refused connection or a rejected certificate will not change on the next try.
                if (attempt >= attempts || rejection is not null || unreachable || e is HttpRequestException { HttpRequestError: HttpRequestError.SecureConnectionError })
                    throw RegistryErrors.Network(hostPort, uri, e, rejection);
                options.Log?.Invoke($"{request.Method} {uri.GetLeftPart(UriPartial.Path)}: {e.Message}; retrying ({attempt}/{attempts - 1})");
                await Task.Delay(Backoff(options, attempt, null), ct).ConfigureAwait(false);
                continue;
            }
            if (attempt < attempts && RegistryErrors.IsTransient(response.StatusCode))
            {
                var delay = Backoff(options, attempt, response);
                options.Log?.Invoke($"{request.Method} {uri.GetLeftPart(UriPartial.Path)}: {(int)response.StatusCode}; retrying in {delay.TotalSeconds:0.#}s ({attempt}/{attempts - 1})");
                response.Dispose();
                await Task.Delay(delay, ct).ConfigureAwait(false);
                continue;
            }
            return response;
        }
    }

    /// <summary>Retry-After when the server sent it (capped), else base × 2^(attempt-1) with jitter.</summary>
    public static TimeSpan Backoff(RegistryOptions options, int attempt, HttpResponseMessage? response)
    {
        TimeSpan? after = null;
        if (response?.Headers.RetryAfter is { } ra)
            after = ra.Delta ?? (ra.Date is { } date ? date - DateTimeOffset.UtcNow : null);
        if (after is { } a)
            return a < TimeSpan.Zero ? TimeSpan.Zero : a > options.MaxRetryDelay ? options.MaxRetryDelay : a;
        double ms = options.RetryBaseDelay.TotalMilliseconds * Math.Pow(2, attempt - 1) * (0.8 + Random.Shared.NextDouble() * 0.4);
        return TimeSpan.FromMilliseconds(Math.Min(ms, options.MaxRetryDelay.TotalMilliseconds));
    }
}
