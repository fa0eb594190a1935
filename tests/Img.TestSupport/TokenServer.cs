using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

namespace Img.TestSupport;

/// <summary>One request the token server answered, for assertions.</summary>
public sealed record TokenRequest(string Method, string GrantType, IReadOnlyList<string> Scopes, bool HadBasicAuth, bool OfflineToken, bool Granted);

/// <summary>
/// A docker token-auth server in the test process: it checks Basic credentials (or a refresh token it
/// issued), and returns ES256 JWTs whose header carries the signing certificate (<c>x5c</c>), the form
/// CNCF distribution 2.8 verifies against its <c>rootcertbundle</c>.
/// </summary>
public sealed class TokenServer : IAsyncDisposable
{
    private readonly HttpListener _listener;
    private readonly ECDsa _key;
    private readonly X509Certificate2 _certificate;
    private readonly ConcurrentDictionary<string, string> _refreshTokens = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private TokenServer(HttpListener listener, int port, string username, string password)
    {
        _listener = listener;
        Port = port;
        Username = username;
        Password = password;
        _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var req = new CertificateRequest("CN=img test token issuer", _key, HashAlgorithmName.SHA256);
        req.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        _certificate = req.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        _loop = Task.Run(LoopAsync);
    }

    public const string Service = "img-test-registry";
    public const string Issuer = "img-test-issuer";

    public int Port { get; }

    public string Realm => $"http://127.0.0.1:{Port}/token";

    public string Username { get; }

    public string Password { get; }

    /// <summary>Whether <c>offline_token=true</c> requests get a refresh token (docker stores it as identity token).</summary>
    public bool IssueRefreshTokens { get; set; } = true;

    /// <summary>Token lifetime in seconds.</summary>
    public int ExpiresIn { get; set; } = 300;

    /// <summary>Every request answered, in order.</summary>
    public ConcurrentQueue<TokenRequest> Requests { get; } = new();

    /// <summary>The PEM of the signing certificate: the registry's <c>rootcertbundle</c>.</summary>
    public string RootCertificatePem => _certificate.ExportCertificatePem();

    public static TokenServer Start(string username, string password)
    {
        for (int attempt = 0; ; attempt++)
        {
            int port = FreePort.Pick();
            var listener = new HttpListener();
            listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                listener.Start();
                return new TokenServer(listener, port, username, password);
            }
            catch (HttpListenerException) when (attempt < 5)
            {
                listener.Close();
            }
        }
    }

    /// <summary>A signed token granting <paramref name="scopes"/> (<c>repository:name:pull,push</c>) directly, without HTTP.</summary>
    public string CreateToken(string subject, IEnumerable<string> scopes)
    {
        var header = new MemoryStream();
        using (var w = new Utf8JsonWriter(header))
        {
            w.WriteStartObject();
            w.WriteString("typ", "JWT");
            w.WriteString("alg", "ES256");
            w.WriteStartArray("x5c");
            w.WriteStringValue(Convert.ToBase64String(_certificate.RawData));
            w.WriteEndArray();
            w.WriteEndObject();
        }
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var claims = new MemoryStream();
        using (var w = new Utf8JsonWriter(claims))
        {
            w.WriteStartObject();
            w.WriteString("iss", Issuer);
            w.WriteString("sub", subject);
            w.WriteString("aud", Service);
            w.WriteNumber("exp", now + ExpiresIn);
            w.WriteNumber("nbf", now - 60);
            w.WriteNumber("iat", now);
            w.WriteString("jti", Guid.NewGuid().ToString("N"));
            w.WriteStartArray("access");
            foreach (var scope in scopes)
            {
                var (type, name, actions) = ParseScope(scope);
                if (type.Length == 0) continue;
                w.WriteStartObject();
                w.WriteString("type", type);
                w.WriteString("name", name);
                w.WriteStartArray("actions");
                foreach (var a in actions) w.WriteStringValue(a);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        string signingInput = Base64Url(header.ToArray()) + "." + Base64Url(claims.ToArray());
        byte[] signature = _key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256);
        return signingInput + "." + Base64Url(signature);
    }

    private static (string Type, string Name, string[] Actions) ParseScope(string scope)
    {
        int first = scope.IndexOf(':');
        int last = scope.LastIndexOf(':');
        if (first < 0 || last <= first) return ("", "", []);
        return (scope[..first], scope[(first + 1)..last], scope[(last + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries));
    }

    private static string Base64Url(byte[] data) => Convert.ToBase64String(data).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext ctx;
            try { ctx = await _listener.GetContextAsync(); }
            catch (Exception) when (_stop.IsCancellationRequested || !_listener.IsListening) { return; }
            catch (HttpListenerException) { continue; }
            _ = Task.Run(() => Handle(ctx));
        }
    }

    private void Handle(HttpListenerContext ctx)
    {
        try
        {
            var req = ctx.Request;
            var fields = new List<KeyValuePair<string, string>>();
            AddQuery(fields, req.Url!.Query);
            if (req.HttpMethod == "POST")
            {
                using var reader = new StreamReader(req.InputStream);
                AddQuery(fields, reader.ReadToEnd());
            }
            string Get(string k) => fields.FirstOrDefault(f => f.Key == k).Value ?? "";
            var scopes = fields.Where(f => f.Key == "scope").SelectMany(f => f.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
            string grant = req.HttpMethod == "POST" ? Get("grant_type") : "basic";
            bool offline = Get("offline_token") == "true";

            string? subject = null;
            bool hadBasic = false;
            if (grant == "refresh_token")
                subject = _refreshTokens.TryGetValue(Get("refresh_token"), out var s) ? s : null;
            else if (grant == "password")
                subject = Get("username") == Username && Get("password") == Password ? Username : null;
            else if (req.Headers["Authorization"] is { } authz && authz.StartsWith("Basic ", StringComparison.Ordinal))
            {
                hadBasic = true;
                var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(authz[6..]));
                subject = decoded == $"{Username}:{Password}" ? Username : null;
            }
            else
                subject = ""; // anonymous: a valid token that grants nothing

            bool credentialsGiven = grant != "basic" || hadBasic;
            if (subject is null || (credentialsGiven && subject.Length == 0))
            {
                Requests.Enqueue(new TokenRequest(req.HttpMethod, grant, scopes, hadBasic, offline, false));
                Reply(ctx, 401, """{"errors":[{"code":"UNAUTHORIZED","message":"incorrect username or password"}]}""");
                return;
            }
            var granted = subject.Length == 0 ? [] : scopes;
            string token = CreateToken(subject.Length == 0 ? "anonymous" : subject, granted);
            string? refresh = null;
            if (subject.Length > 0 && IssueRefreshTokens && (offline || grant == "refresh_token"))
            {
                refresh = grant == "refresh_token" ? Get("refresh_token") : "rt-" + Guid.NewGuid().ToString("N");
                _refreshTokens[refresh] = subject;
            }
            Requests.Enqueue(new TokenRequest(req.HttpMethod, grant, scopes, hadBasic, offline, true));
            var body = new MemoryStream();
            using (var w = new Utf8JsonWriter(body))
            {
                w.WriteStartObject();
                w.WriteString("token", token);
                w.WriteString("access_token", token);
                w.WriteNumber("expires_in", ExpiresIn);
                w.WriteString("issued_at", DateTimeOffset.UtcNow.ToString("o"));
                if (refresh is not null) w.WriteString("refresh_token", refresh);
                w.WriteEndObject();
            }
            Reply(ctx, 200, Encoding.UTF8.GetString(body.ToArray()));
        }
        catch (Exception e)
        {
            try { Reply(ctx, 500, e.Message); } catch (Exception) { }
        }
    }

    private static void AddQuery(List<KeyValuePair<string, string>> fields, string query)
    {
        foreach (var part in query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = part.IndexOf('=');
            string k = Uri.UnescapeDataString((eq < 0 ? part : part[..eq]).Replace('+', ' '));
            string v = eq < 0 ? "" : Uri.UnescapeDataString(part[(eq + 1)..].Replace('+', ' '));
            fields.Add(new(k, v));
        }
    }

    private static void Reply(HttpListenerContext ctx, int status, string body)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json";
        ctx.Response.ContentLength64 = bytes.Length;
        ctx.Response.OutputStream.Write(bytes);
        ctx.Response.Close();
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Close();
        try { await _loop; } catch (Exception) { }
        _certificate.Dispose();
        _key.Dispose();
    }
}

/// <summary>Loopback ports that were free a moment ago (bind to 0, read, release); callers retry on conflicts.</summary>
public static class FreePort
{
    public static int Pick()
    {
        var l = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }
}
