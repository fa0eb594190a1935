using System.Net;

namespace Img.Registry;

public sealed partial class RegistryClient
{
    /// <summary>
    /// Checks the credentials against the registry (Basic: an authenticated <c>GET /v2/</c>; Bearer: a token
    /// from its token server) and stores them in docker's config: the refresh token when the token server
    /// returns one, else user and password. Wrong credentials throw <see cref="RegistryAuthException"/> and
    /// store nothing.
    /// </summary>
    /// <param name="server">The login server as typed (<c>null</c> or empty means Docker Hub); normalised as docker does.</param>
    public async Task<LoginResult> LoginAsync(string? server, string username, string password, CancellationToken ct = default)
    {
        string key = ServerAddress.NormalizeLoginServer(server);
        string host = ServerAddress.ApiHost(key);
        string shown = ServerAddress.ConvertToHostname(key);
        var given = new Credentials(username, password);
        var auth = new RegistryAuth(Hosts, host, _ => Task.FromResult<Credentials?>(given)) { Offline = true };
        var transport = await RegistryTransport.ConnectAsync(Hosts, host, null, auth, ct).ConfigureAwait(false);
        if (auth.Challenge is not null)
        {
            try
            {
                using var response = await transport.SendAsync(new RequestSpec(HttpMethod.Get, "v2/"), [], ct).ConfigureAwait(false);
                if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
                    throw new RegistryAuthException(shown, $"login to {shown} failed: unauthorized: incorrect username or password", response.StatusCode, "UNAUTHORIZED");
                if (!response.IsSuccessStatusCode)
                {
                    var (code, message) = await RegistryErrors.ReadAsync(response, ct).ConfigureAwait(false);
                    throw new RegistryException($"login to {shown} failed: {message}", response.StatusCode, code);
                }
            }
            catch (RegistryAuthException e) when (!e.Message.StartsWith("login to ", StringComparison.Ordinal))
            {
                throw new RegistryAuthException(shown, $"login to {shown} failed: unauthorized: incorrect username or password", e.StatusCode, e.ErrorCode);
            }
        }
        var stored = auth.RefreshToken is { Length: > 0 } refresh ? new Credentials(username, null, refresh) : given;
        await (Options.DockerConfig ?? new DockerConfig()).StoreCredentialsAsync(key, stored, ct).ConfigureAwait(false);
        // Later requests in this process should use what was just stored.
        _transports.Clear();
        Log?.Invoke($"login to {shown} succeeded; stored {(stored.IdentityToken is null ? "username and password" : "an identity token")} under {key}");
        return new LoginResult(key, stored.IdentityToken is not null);
    }

    /// <summary>Removes the stored login for a server (normalised like <see cref="LoginAsync"/>), as <c>img logout</c> does.</summary>
    public LogoutResult Logout(string? server)
    {
        string key = ServerAddress.NormalizeLoginServer(server);
        var config = Options.DockerConfig ?? new DockerConfig();
        bool removed = config.RemoveLogin(key, out var warning);
        _transports.Clear();
        return new LogoutResult(key, removed, warning);
    }
}
