using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Img.Registry;

/// <summary>
/// Answers one registry host's authentication challenge: anonymous, Basic, or Bearer tokens from its
/// token server (docker token auth spec), cached per scope until they expire.
/// </summary>
internal sealed class RegistryAuth
{
    private readonly RegistryHosts _hosts;
    private readonly string _hostPort;
    private readonly Func<CancellationToken, Task<Credentials?>> _loadCredentials;
    private readonly ConcurrentDictionary<string, (string Token, DateTimeOffset Expires)> _tokens = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _fetchLock = new(1, 1);
    private Task<Credentials?>? _credentials;

    public RegistryAuth(RegistryHosts hosts, string hostPort, Func<CancellationToken, Task<Credentials?>> loadCredentials)
    {
        _hosts = hosts;
        _hostPort = hostPort;
        _loadCredentials = loadCredentials;
    }

    /// <summary>The challenge last seen from the registry; null while it asked for none.</summary>
    public AuthChallenge? Challenge { get; set; }

    /// <summary>Ask token servers for a refresh token (<c>offline_token=true</c>), as login does.</summary>
    public bool Offline { get; init; }

    /// <summary>The refresh token the token server returned, if it returned one.</summary>
    public string? RefreshToken { get; private set; }

    private Action<string>? Log => _hosts.Options.Log;

    public Task<Credentials?> CredentialsAsync(CancellationToken ct) => _credentials ??= _loadCredentials(ct);

    /// <summary>The Authorization header for requests needing <paramref name="scopes"/>, or null for anonymous.</summary>
    public async Task<AuthenticationHeaderValue?> HeaderAsync(IReadOnlyList<string> scopes, CancellationToken ct)
    {
        var challenge = Challenge;
        if (challenge is null) return null;
        var creds = await CredentialsAsync(ct).ConfigureAwait(false);
        if (challenge.IsBasic)
            return creds is { Password: { } p } ? Basic(creds.Username, p) : null;
        if (!challenge.IsBearer) return null;
        string key = ScopeKey(scopes);
        if (_tokens.TryGetValue(key, out var cached) && cached.Expires > DateTimeOffset.UtcNow)
            return new AuthenticationHeaderValue("Bearer", cached.Token);
        await _fetchLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_tokens.TryGetValue(key, out cached) && cached.Expires > DateTimeOffset.UtcNow)
                return new AuthenticationHeaderValue("Bearer", cached.Token);
            var (token, expires) = await FetchTokenAsync(challenge, scopes, creds, ct).ConfigureAwait(false);
            _tokens[key] = (token, expires);
            return new AuthenticationHeaderValue("Bearer", token);
        }
        finally
        {
            _fetchLock.Release();
        }
    }

    /// <summary>
    /// Learns from a 401: records the challenge and any extra scope it names. Returns whether a retry with
    /// (new) credentials can help; the caller retries at most once.
    /// </summary>
    public bool OnUnauthorized(HttpResponseMessage response, List<string> scopes)
    {
        var challenge = AuthChallenge.From(response.Headers);
        if (challenge is null) return false;
        Challenge = challenge;
        _tokens.TryRemove(ScopeKey(scopes), out _);
        if (challenge.IsBearer && challenge.Scope is { Length: > 0 } extra)
            foreach (var s in extra.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                if (!scopes.Contains(s)) scopes.Add(s);
        return challenge.IsBearer || challenge.IsBasic;
    }

    private async Task<(string Token, DateTimeOffset Expires)> FetchTokenAsync(AuthChallenge challenge, IReadOnlyList<string> scopes, Credentials? creds, CancellationToken ct)
    {
        if (!Uri.TryCreate(challenge.Realm, UriKind.Absolute, out var realm) || realm.Scheme is not ("http" or "https"))
            throw new RegistryAuthException(_hostPort, $"{_hostPort}: invalid token realm \"{challenge.Realm}\" in the authentication challenge");
        var client = _hosts.ClientFor(realm.IsDefaultPort ? realm.Host : $"{realm.Host}:{realm.Port}");
        bool refresh = !string.IsNullOrEmpty(creds?.IdentityToken);
        Log?.Invoke($"fetching token from {realm.GetLeftPart(UriPartial.Path)} for [{string.Join(' ', scopes)}] ({(refresh ? "refresh token" : creds is null ? "anonymous" : "basic")})");

        HttpRequestMessage Make(Action _)
        {
            if (refresh)
            {
                var form = new List<KeyValuePair<string, string>>
                {
                    new("grant_type", "refresh_token"),
                    new("refresh_token", creds!.IdentityToken!),
                    new("client_id", "img"),
                    new("access_type", "offline"),
                };
                if (challenge.Service is { } svc) form.Add(new("service", svc));
                if (scopes.Count > 0) form.Add(new("scope", string.Join(' ', scopes)));
                return new HttpRequestMessage(HttpMethod.Post, realm) { Content = new FormUrlEncodedContent(form) };
            }
            var query = new StringBuilder(realm.Query.Length > 1 ? realm.Query[1..] + "&" : "");
            if (challenge.Service is { } service) query.Append("service=").Append(Uri.EscapeDataString(service)).Append('&');
            foreach (var scope in scopes) query.Append("scope=").Append(Uri.EscapeDataString(scope)).Append('&');
            query.Append("client_id=img");
            if (creds is { Password: not null })
            {
                query.Append("&account=").Append(Uri.EscapeDataString(creds.Username));
                if (Offline) query.Append("&offline_token=true");
            }
            var req = new HttpRequestMessage(HttpMethod.Get, new UriBuilder(realm) { Query = query.ToString() }.Uri);
            if (creds is { Password: { } p }) req.Headers.Authorization = Basic(creds.Username, p);
            return req;
        }

        using var response = await HttpRetry.SendAsync(client, _hosts.Options, Make, retry: true, ct, realm.Authority).ConfigureAwait(false);
        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            var (code, message) = await RegistryErrors.ReadAsync(response, ct).ConfigureAwait(false);
            string why = creds is null ? "authentication required" : "incorrect username or password";
            throw new RegistryAuthException(_hostPort, $"{_hostPort}: unauthorized: {why} ({message})", response.StatusCode, code ?? "UNAUTHORIZED");
        }
        if (!response.IsSuccessStatusCode)
        {
            var (code, message) = await RegistryErrors.ReadAsync(response, ct).ConfigureAwait(false);
            throw new RegistryAuthException(_hostPort, $"{_hostPort}: token server {realm.GetLeftPart(UriPartial.Path)} failed: {message}", response.StatusCode, code);
        }
        var bytes = await RegistryErrors.ReadLimitedAsync(response.Content, 1 << 20, ct).ConfigureAwait(false);
        TokenResponse? tr;
        try { tr = JsonSerializer.Deserialize(bytes, RegistryJsonContext.Default.TokenResponse); }
        catch (JsonException e) { throw new RegistryAuthException(_hostPort, $"{_hostPort}: token server sent invalid JSON: {e.Message}"); }
        string token = tr?.Token is { Length: > 0 } t ? t : tr?.AccessToken ?? "";
        if (token.Length == 0)
            throw new RegistryAuthException(_hostPort, $"{_hostPort}: token server {realm.GetLeftPart(UriPartial.Path)} returned no token");
        if (!string.IsNullOrEmpty(tr!.RefreshToken)) RefreshToken = tr.RefreshToken;
        // The spec's default lifetime is 60 s; renew a little early so a token never expires in flight.
        int lifetime = tr.ExpiresIn >= 60 ? tr.ExpiresIn : 60;
        var issued = tr.IssuedAt is { } at && at <= DateTimeOffset.UtcNow ? at : DateTimeOffset.UtcNow;
        return (token, issued.AddSeconds(lifetime - 10));
    }

    private static string ScopeKey(IReadOnlyList<string> scopes) => string.Join(' ', scopes.Order(StringComparer.Ordinal));

    public static AuthenticationHeaderValue Basic(string user, string password) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + password)));
}
