using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace Img.Registry;

/// <summary>Turns failed responses and network exceptions into messages a user can act on.</summary>
internal static class RegistryErrors
{
    /// <summary>The registry's own error code and message, from the distribution error envelope (or the raw text).</summary>
    public static async Task<(string? Code, string Message)> ReadAsync(HttpResponseMessage response, CancellationToken ct)
    {
        string body;
        try
        {
            var bytes = await ReadLimitedAsync(response.Content, 64 * 1024, ct).ConfigureAwait(false);
            body = System.Text.Encoding.UTF8.GetString(bytes).Trim();
        }
        catch (Exception e) when (e is IOException or HttpRequestException) { body = ""; }
        if (body.StartsWith('{'))
        {
            try
            {
                var env = JsonSerializer.Deserialize(body, RegistryJsonContext.Default.ErrorEnvelope);
                if (env?.Errors is [var first, ..])
                    return (first.Code, $"{(first.Code ?? "error").ToLowerInvariant()}: {first.Message}");
            }
            catch (JsonException) { }
        }
        string status = $"{(int)response.StatusCode} {response.ReasonPhrase}";
        return (null, body.Length is > 0 and < 300 && !body.StartsWith('<') ? $"{status}: {body}" : status);
    }

    /// <summary>
    /// Reads a small body whole: at most <paramref name="limit"/> bytes and, with <paramref name="options"/>, no slower
    /// than its low-speed rule and never stalled longer than its idle timeout (an endless or dripping body fails).
    /// </summary>
    public static async Task<byte[]> ReadLimitedAsync(HttpContent content, int limit, CancellationToken ct, RegistryOptions? options = null)
    {
        await using var s = await content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        var lowSpeed = options is null ? null : new LowSpeedLimit(options);
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
        while (true)
        {
            if (options is not null) idle.CancelAfter(options.ReadIdleTimeout);
            int n;
            try { n = await s.ReadAsync(chunk, idle.Token).ConfigureAwait(false); }
            catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
            {
                throw new RegistryException($"response body stalled: no data for {options!.ReadIdleTimeout.TotalSeconds:0.#}s", inner: e);
            }
            if (n == 0) return buffer.ToArray();
            if (buffer.Length + n > limit) throw new RegistryException($"response larger than {limit} bytes");
            buffer.Write(chunk, 0, n);
            if (lowSpeed?.Add(n) is { } slow) throw new RegistryException("response body " + slow);
        }
    }

    /// <summary>A network failure reaching <paramref name="hostPort"/>, explained.</summary>
    public static RegistryException Network(string hostPort, Uri uri, Exception e, string? tlsRejection)
    {
        if (tlsRejection is not null)
            return new RegistryException(
                $"{uri.GetLeftPart(UriPartial.Path)}: tls: failed to verify certificate: {tlsRejection} " +
                $"(trust the registry's CA in certs.d/{hostPort}/ca.crt or SSL_CERT_FILE, or mark {hostPort} insecure)", inner: e)
            { IsCertificateRejection = true };
        if (e is OperationCanceledException or TimeoutException || e.InnerException is TimeoutException)
            return new RegistryException($"cannot reach registry {hostPort}: connection timed out", inner: e);
        var socket = Find<SocketException>(e);
        if (e is HttpRequestException { HttpRequestError: HttpRequestError.NameResolutionError })
            return new RegistryException($"cannot reach registry {hostPort}: unknown host", inner: e);
        if (socket is not null)
            return new RegistryException($"cannot reach registry {hostPort}: {socket.Message}", inner: e);
        if (e is HttpRequestException { HttpRequestError: HttpRequestError.SecureConnectionError })
            return new RegistryException($"{uri.GetLeftPart(UriPartial.Authority)}: TLS handshake failed: {Innermost(e).Message}", inner: e);
        return new RegistryException($"{uri.GetLeftPart(UriPartial.Path)}: {Innermost(e).Message}", inner: e);
    }

    public static bool IsTransient(HttpStatusCode status) =>
        status is HttpStatusCode.TooManyRequests or HttpStatusCode.InternalServerError or HttpStatusCode.BadGateway
            or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout;

    private static T? Find<T>(Exception? e) where T : Exception
    {
        for (; e is not null; e = e.InnerException)
            if (e is T t) return t;
        return null;
    }

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e;
    }
}
