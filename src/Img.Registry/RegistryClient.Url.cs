namespace Img.Registry;

public sealed partial class RegistryClient
{
    private const int MaxUrlRedirects = 10;

    /// <summary>
    /// GETs a plain URL (<c>ADD https://…</c>) through the same transport as the registries: the same TLS trust
    /// (system store, <c>SSL_CERT_FILE</c>/<c>SSL_CERT_DIR</c>, <c>certs.d/&lt;host&gt;</c>), insecure hosts, user agent,
    /// connect and response timeouts and debug log. Redirects are followed by hand, at most ten, never from https to
    /// http. Returns once the headers are in; the caller reads and disposes the response.
    /// </summary>
    /// <exception cref="RegistryException">The host cannot be reached, its certificate is refused, or a redirect is refused.</exception>
    public async Task<HttpResponseMessage> GetUrlAsync(Uri url, CancellationToken ct = default)
    {
        var uri = url;
        for (var hop = 0; ; hop++)
        {
            var hostPort = uri.IsDefaultPort ? uri.Host : $"{uri.Host}:{uri.Port}";
            Log?.Invoke($"GET {uri.GetLeftPart(UriPartial.Path)}");
            var response = await HttpRetry.SendAsync(Hosts.ClientFor(hostPort), Options, _ => new HttpRequestMessage(HttpMethod.Get, uri), retry: false, ct,
                hostPort, uri.Scheme == Uri.UriSchemeHttps ? Hosts.TrustFor(hostPort) : null).ConfigureAwait(false);
            if (!RegistryTransport.IsRedirect(response.StatusCode) || response.Headers.Location is not { } location || hop == MaxUrlRedirects) return response;
            var next = new Uri(uri, location);
            response.Dispose();
            if (next.Scheme is not ("http" or "https"))
                throw new RegistryException($"{uri.GetLeftPart(UriPartial.Path)}: redirect to unsupported URL scheme {next.Scheme}");
            if (uri.Scheme == Uri.UriSchemeHttps && next.Scheme == Uri.UriSchemeHttp)
                throw new RegistryException($"{uri.GetLeftPart(UriPartial.Path)}: refusing a redirect from https to http ({next.GetLeftPart(UriPartial.Path)})");
            uri = next;
        }
    }
}
