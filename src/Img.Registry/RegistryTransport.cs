using System.Net;
using System.Net.Http.Headers;

namespace Img.Registry;

/// <summary>What to send; rebuilt for every attempt and every redirect hop.</summary>
internal sealed record RequestSpec(HttpMethod Method, string Target)
{
    /// <summary>Headers such as Accept and Range, applied on every hop.</summary>
    public Action<HttpRequestHeaders>? Headers { get; init; }

    /// <summary>A fresh body per attempt (a file stream is reopened, never buffered); it calls the action as bytes go out.</summary>
    public Func<Action, HttpContent>? Content { get; init; }

    /// <summary>Whether the request may be sent again after a network error or a 5xx.</summary>
    public bool Retry { get; init; } = true;
}

/// <summary>
/// The v2 API of one registry endpoint: the ping that chose its scheme, authentication, retries, and
/// redirects followed by hand so that an Authorization header never travels to another host.
/// </summary>
internal sealed class RegistryTransport
{
    private const int MaxRedirects = 5;
    private readonly RegistryHosts _hosts;

    private RegistryTransport(RegistryHosts hosts, RegistryEndpoint endpoint, RegistryAuth auth)
    {
        _hosts = hosts;
        Endpoint = endpoint;
        Auth = auth;
    }

    public RegistryEndpoint Endpoint { get; }

    public RegistryAuth Auth { get; }

    public string HostPort => Endpoint.HostPort;

    private RegistryOptions Options => _hosts.Options;

    /// <summary>
    /// Pings <c>/v2/</c> to choose the scheme (https, then http where allowed) and learn the auth challenge.
    /// </summary>
    public static async Task<RegistryTransport> ConnectAsync(
        RegistryHosts hosts, string hostPort, RegistryEndpoint? fixedEndpoint, RegistryAuth auth, CancellationToken ct)
    {
        var candidates = new List<RegistryEndpoint>();
        if (fixedEndpoint is not null) candidates.Add(fixedEndpoint);
        else if (hosts.TryGetResolved(hostPort, out var known)) candidates.Add(known);
        else
        {
            candidates.Add(new RegistryEndpoint("https", hostPort));
            if (hosts.MayFallBackToHttp(hostPort)) candidates.Add(new RegistryEndpoint("http", hostPort));
        }
        var trust = hosts.TrustFor(hostPort);
        for (int i = 0; ; i++)
        {
            var endpoint = candidates[i];
            var uri = new Uri(endpoint.BaseUri, "v2/");
            HttpResponseMessage response;
            try
            {
                response = await HttpRetry.SendAsync(hosts.ClientFor(hostPort), hosts.Options,
                    _ => new HttpRequestMessage(HttpMethod.Get, uri), retry: true, ct, hostPort, endpoint.Scheme == "https" ? trust : null).ConfigureAwait(false);
            }
            catch (RegistryException e) when (i + 1 < candidates.Count && e.InnerException is HttpRequestException { HttpRequestError: HttpRequestError.SecureConnectionError }
                                              && !e.IsCertificateRejection)
            {
                // The port speaks no TLS: a plain-http registry on a host allowed to use it.
                hosts.Options.Log?.Invoke($"{hostPort}: https failed ({e.Message}); trying http");
                continue;
            }
            using (response)
            {
                if (response.StatusCode == HttpStatusCode.Unauthorized)
                    auth.Challenge = AuthChallenge.From(response.Headers);
                else if (response.StatusCode == HttpStatusCode.NotFound && !endpoint.IsMirror)
                    throw new RegistryException($"{endpoint}: not a registry: /v2/ answered 404", response.StatusCode);
                else if (!response.IsSuccessStatusCode && response.StatusCode != HttpStatusCode.NotFound)
                {
                    var (code, message) = await RegistryErrors.ReadAsync(response, ct).ConfigureAwait(false);
                    throw new RegistryException($"{endpoint}/v2/: {message}", response.StatusCode, code);
                }
            }
            hosts.Options.Log?.Invoke($"{hostPort}: using {endpoint}{(auth.Challenge is { } c ? $" ({c.Scheme} auth)" : "")}");
            if (fixedEndpoint is null) hosts.Remember(endpoint);
            return new RegistryTransport(hosts, endpoint, auth);
        }
    }

    /// <summary>Sends with authentication for <paramref name="scopes"/>; one re-authentication on 401; redirects for GET/HEAD.</summary>
    public async Task<HttpResponseMessage> SendAsync(RequestSpec spec, List<string> scopes, CancellationToken ct)
    {
        var uri = Absolute(spec.Target);
        bool reauthenticated = false;
        while (true)
        {
            var header = await Auth.HeaderAsync(scopes, ct).ConfigureAwait(false);
            var response = await SendOnceAsync(spec, uri, header, ct).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.Unauthorized && !reauthenticated && Auth.OnUnauthorized(response, scopes))
            {
                reauthenticated = true;
                response.Dispose();
                continue;
            }
            if (IsRedirect(response.StatusCode) && (spec.Method == HttpMethod.Get || spec.Method == HttpMethod.Head))
                response = await FollowAsync(spec, response, header, ct).ConfigureAwait(false);
            return response;
        }
    }

    private async Task<HttpResponseMessage> FollowAsync(RequestSpec spec, HttpResponseMessage response, AuthenticationHeaderValue? header, CancellationToken ct)
    {
        for (int hop = 0; IsRedirect(response.StatusCode); hop++)
        {
            if (hop == MaxRedirects || response.Headers.Location is not { } location)
                return response;
            var next = new Uri(response.RequestMessage!.RequestUri!, location);
            response.Dispose();
            if (next.Scheme is not ("http" or "https"))
                throw new RegistryException($"{HostPort}: redirect to unsupported URL scheme {next.Scheme}");
            // Credentials belong to the registry: a blob redirect to storage elsewhere goes without them.
            bool sameHost = string.Equals(next.Scheme, Endpoint.Scheme, StringComparison.OrdinalIgnoreCase)
                && string.Equals(next.Authority, Endpoint.BaseUri.Authority, StringComparison.OrdinalIgnoreCase);
            Options.Log?.Invoke($"redirect to {next.GetLeftPart(UriPartial.Path)}{(sameHost ? "" : " (without credentials)")}");
            response = await SendOnceAsync(spec with { Content = null }, next, sameHost ? header : null, ct).ConfigureAwait(false);
        }
        return response;
    }

    private Task<HttpResponseMessage> SendOnceAsync(RequestSpec spec, Uri uri, AuthenticationHeaderValue? header, CancellationToken ct)
    {
        string hostPort = uri.IsDefaultPort ? uri.Host : $"{uri.Host}:{uri.Port}";
        bool https = uri.Scheme == "https";
        return HttpRetry.SendAsync(_hosts.ClientFor(hostPort), Options, touch =>
        {
            var req = new HttpRequestMessage(spec.Method, uri);
            spec.Headers?.Invoke(req.Headers);
            if (header is not null) req.Headers.Authorization = header;
            if (spec.Content is not null) req.Content = spec.Content(touch);
            return req;
        }, spec.Retry, ct, hostPort, https ? _hosts.TrustFor(hostPort) : null);
    }

    public Uri Absolute(string target) =>
        Uri.TryCreate(target, UriKind.Absolute, out var abs) && abs.Scheme is "http" or "https" ? abs : new Uri(Endpoint.BaseUri, target.TrimStart('/'));

    internal static bool IsRedirect(HttpStatusCode s) =>
        s is HttpStatusCode.MovedPermanently or HttpStatusCode.Found or HttpStatusCode.SeeOther
            or HttpStatusCode.TemporaryRedirect or HttpStatusCode.PermanentRedirect;
}
