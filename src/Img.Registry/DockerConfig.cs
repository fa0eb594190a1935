using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Img.Registry;

/// <summary>
/// docker's <c>config.json</c> (in <c>$DOCKER_CONFIG</c> or <c>~/.docker</c>): credentials in <c>auths</c>,
/// or in credential helpers named by <c>credsStore</c> / <c>credHelpers</c>. Every field this class does not
/// manage is written back untouched; writes are atomic and mode 0600.
/// </summary>
public sealed class DockerConfig
{
    private readonly string? _helperSearchPath;

    /// <param name="directory">The config directory; null means <c>$DOCKER_CONFIG</c>, else <c>~/.docker</c>.</param>
    /// <param name="helperSearchPath">Where to look for credential helpers; null means <c>$PATH</c>.</param>
    public DockerConfig(string? directory = null, string? helperSearchPath = null)
    {
        Directory = directory ?? DefaultDirectory();
        _helperSearchPath = helperSearchPath;
    }

    public string Directory { get; }

    public string FilePath => Path.Combine(Directory, "config.json");

    /// <summary><c>$DOCKER_CONFIG</c>, else <c>$HOME/.docker</c>.</summary>
    public static string DefaultDirectory() =>
        Environment.GetEnvironmentVariable("DOCKER_CONFIG") is { Length: > 0 } d ? d
            : Path.Combine(Environment.GetEnvironmentVariable("HOME") is { Length: > 0 } h ? h : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".docker");

    /// <summary>Credentials for a server key (a hostname, or <see cref="ServerAddress.DockerHubKey"/>), or null.</summary>
    public async Task<Credentials?> GetCredentialsAsync(string serverKey, CancellationToken ct = default)
    {
        var root = Load();
        if (HelperFor(root, serverKey) is { } helper)
            return await helper.GetAsync(serverKey, ct).ConfigureAwait(false);
        var entry = FindAuthEntry(root, serverKey);
        return entry is null ? null : Decode(entry);
    }

    /// <summary>Stores credentials for a server key: in its helper if one is configured, else in <c>auths</c>.</summary>
    public async Task StoreCredentialsAsync(string serverKey, Credentials credentials, CancellationToken ct = default)
    {
        var root = Load();
        var auths = Auths(root, create: true)!;
        if (HelperFor(root, serverKey) is { } helper)
        {
            await helper.StoreAsync(serverKey, credentials, ct).ConfigureAwait(false);
            // docker keeps an empty entry so that `logout` and tooling know a login exists.
            auths[serverKey] = new JsonObject();
        }
        else
        {
            var entry = new JsonObject();
            string password = string.IsNullOrEmpty(credentials.IdentityToken) ? credentials.Password ?? "" : "";
            if (credentials.Username.Length > 0 || password.Length > 0)
                entry["auth"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials.Username + ":" + password));
            if (!string.IsNullOrEmpty(credentials.IdentityToken))
                entry["identitytoken"] = credentials.IdentityToken;
            auths[serverKey] = entry;
        }
        Save(root);
    }

    /// <summary>Whether <c>auths</c> has an entry for the server key (what <c>logout</c> checks).</summary>
    public bool HasLogin(string serverKey) => FindAuthEntryKey(Load(), serverKey) is not null;

    /// <summary>
    /// Removes a login. Returns false when there was none. A helper that fails to erase does not stop
    /// the removal from <c>auths</c>; its error is returned in <paramref name="helperError"/>.
    /// </summary>
    public bool RemoveLogin(string serverKey, out string? helperError)
    {
        helperError = null;
        var root = Load();
        var key = FindAuthEntryKey(root, serverKey);
        if (key is null) return false;
        if (HelperFor(root, serverKey) is { } helper)
        {
            try { helper.EraseAsync(serverKey).GetAwaiter().GetResult(); }
            catch (RegistryException e) { helperError = e.Message; }
        }
        Auths(root, create: false)!.Remove(key);
        Save(root);
        return true;
    }

    private CredentialHelper? HelperFor(JsonObject root, string serverKey)
    {
        if (root["credHelpers"] is JsonObject helpers)
        {
            if (StringOf(helpers[serverKey]) is { Length: > 0 } h) return new CredentialHelper(h, _helperSearchPath);
            string host = ServerAddress.ConvertToHostname(serverKey);
            if (StringOf(helpers[host]) is { Length: > 0 } h2) return new CredentialHelper(h2, _helperSearchPath);
        }
        return StringOf(root["credsStore"]) is { Length: > 0 } store ? new CredentialHelper(store, _helperSearchPath) : null;
    }

    private static string? StringOf(JsonNode? node) =>
        node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static JsonObject? Auths(JsonObject root, bool create)
    {
        if (root["auths"] is JsonObject a) return a;
        if (!create) return null;
        var auths = new JsonObject();
        root["auths"] = auths;
        return auths;
    }

    private static string? FindAuthEntryKey(JsonObject root, string serverKey)
    {
        if (Auths(root, create: false) is not { } auths) return null;
        if (auths.ContainsKey(serverKey)) return serverKey;
        // docker also matches entries saved as URLs ("https://host/v2/") by their hostname.
        string host = ServerAddress.ConvertToHostname(serverKey);
        foreach (var (key, _) in auths)
            if (ServerAddress.ConvertToHostname(key) == host) return key;
        return null;
    }

    private static JsonObject? FindAuthEntry(JsonObject root, string serverKey) =>
        FindAuthEntryKey(root, serverKey) is { } key ? Auths(root, false)![key] as JsonObject : null;

    private Credentials? Decode(JsonObject entry)
    {
        string user = "", password = "";
        if (StringOf(entry["auth"]) is { Length: > 0 } auth)
        {
            string decoded;
            try { decoded = Encoding.UTF8.GetString(Convert.FromBase64String(auth)); }
            catch (FormatException) { throw new RegistryException($"invalid auth entry in {FilePath}: not base64"); }
            int colon = decoded.IndexOf(':');
            if (colon < 0) throw new RegistryException($"invalid auth entry in {FilePath}: expected user:password");
            user = decoded[..colon];
            password = decoded[(colon + 1)..];
        }
        else
        {
            user = StringOf(entry["username"]) ?? "";
            password = StringOf(entry["password"]) ?? "";
        }
        string? token = StringOf(entry["identitytoken"]);
        if (user.Length == 0 && password.Length == 0 && string.IsNullOrEmpty(token)) return null;
        return new Credentials(user, password.Length == 0 ? null : password, string.IsNullOrEmpty(token) ? null : token);
    }

    private JsonObject Load()
    {
        if (!File.Exists(FilePath)) return new JsonObject();
        byte[] bytes = File.ReadAllBytes(FilePath);
        if (bytes.Length == 0) return new JsonObject();
        try
        {
            return JsonNode.Parse(bytes) as JsonObject
                ?? throw new RegistryException($"{FilePath}: not a JSON object");
        }
        catch (JsonException e)
        {
            throw new RegistryException($"{FilePath}: invalid JSON: {e.Message}");
        }
    }

    private void Save(JsonObject root)
    {
        // Write through a symlinked config.json to its target, as docker does.
        if (!System.IO.Directory.Exists(Directory))
            System.IO.Directory.CreateDirectory(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string target = FilePath;
        if (File.Exists(target) && new FileInfo(target).ResolveLinkTarget(returnFinalTarget: true) is { } resolved) target = resolved.FullName;
        string dir = Path.GetDirectoryName(target)!;
        string temp = Path.Combine(dir, $".config.json.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var fs = new FileStream(temp, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            }))
            {
                using (var w = new Utf8JsonWriter(fs, new JsonWriterOptions { Indented = true, IndentCharacter = '\t', IndentSize = 1 }))
                    root.WriteTo(w);
                fs.Flush(flushToDisk: true);
            }
            File.Move(temp, target, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { }
            throw;
        }
        Img.Content.FileSync.Directory(dir);
    }
}
