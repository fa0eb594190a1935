using System.Text;
using System.Text.Json.Nodes;
using Img.Oci;
using Img.TestSupport;

namespace Img.Registry.Tests;

/// <summary>htpasswd Basic auth on a real registry: login, stored credentials, logout.</summary>
public sealed class BasicAuthTests : IAsyncLifetime, IDisposable
{
    private RegistryServer _registry = null!;
    private readonly Scratch _scratch = new();

    public async Task InitializeAsync() => _registry = await RegistryServer.StartAsync(RegistryShape.Basic);

    public async Task DisposeAsync() => await _registry.DisposeAsync();

    public void Dispose() => _scratch.Dispose();

    private string ConfigPath => Path.Combine(_scratch.DockerConfigDir, "config.json");

    [Fact]
    public async Task Login_stores_user_and_password_0600_and_later_pulls_and_pushes_use_them()
    {
        var seeded = await _registry.SeedImageAsync("basic/app");
        var anonymous = await Assert.ThrowsAsync<RegistryAuthException>(() => _scratch.Client().PullAsync(Reference.Parse(seeded.Reference), null, _scratch.Store));
        Assert.Contains("pull access denied", anonymous.Message);

        var login = await _scratch.Client().LoginAsync($"http://{_registry.HostPort}/v2/", _registry.Username, _registry.Password);
        Assert.Equal(_registry.HostPort, login.ServerKey);
        Assert.False(login.IdentityTokenStored);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(ConfigPath));
        var entry = JsonNode.Parse(File.ReadAllText(ConfigPath))!["auths"]![_registry.HostPort]!;
        Assert.Equal(Convert.ToBase64String(Encoding.UTF8.GetBytes($"{_registry.Username}:{_registry.Password}")), (string?)entry["auth"]);

        var client = _scratch.Client();
        var result = await client.PullAsync(Reference.Parse(seeded.Reference), null, _scratch.Store);
        Assert.Equal(seeded.Manifest.Digest, result.Target.Digest);
        var image = await TestImages.CreateAsync(_scratch.Store, "amd64", TestImages.Random(4000));
        await client.PushAsync(Reference.Parse($"{_registry.HostPort}/basic/pushed:1"), image.Manifest, _scratch.Store);
        Assert.DoesNotContain(_scratch.Log, l => l.Contains(_registry.Password, StringComparison.Ordinal));

        var logout = _scratch.Client().Logout(_registry.HostPort);
        Assert.True(logout.WasLoggedIn);
        Assert.Null(JsonNode.Parse(File.ReadAllText(ConfigPath))!["auths"]![_registry.HostPort]);
        Assert.False(_scratch.Client().Logout(_registry.HostPort).WasLoggedIn);
    }

    [Fact]
    public async Task Login_through_a_credential_helper_keeps_the_secret_out_of_config_json()
    {
        string bin = Path.Combine(_scratch.Root, "bin");
        Directory.CreateDirectory(bin);
        string script = Path.Combine(bin, "docker-credential-file");
        // Keeps one JSON document per server beside itself; prints "not found" like the real helpers.
        File.WriteAllText(script, """
            #!/bin/sh
            d="$(dirname "$0")/creds"; mkdir -p "$d"
            case "$1" in
              store) json=$(cat); s=$(printf '%s' "$json" | sed -n 's/.*"ServerURL":"\([^"]*\)".*/\1/p'); printf '%s' "$json" > "$d/$(printf '%s' "$s" | tr ':/' '__')" ;;
              get) read -r s; f="$d/$(printf '%s' "$s" | tr ':/' '__')"; [ -f "$f" ] && cat "$f" || { echo "credentials not found in native keychain"; exit 1; } ;;
              erase) read -r s; rm -f "$d/$(printf '%s' "$s" | tr ':/' '__')" ;;
            esac
            """);
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Directory.CreateDirectory(_scratch.DockerConfigDir);
        File.WriteAllText(ConfigPath, """{"credsStore":"file"}""");
        var config = new DockerConfig(_scratch.DockerConfigDir, helperSearchPath: bin);
        var client = _scratch.Client(tweak: o => o with { DockerConfig = config });

        await client.LoginAsync(_registry.HostPort, _registry.Username, _registry.Password);
        Assert.DoesNotContain(_registry.Password, File.ReadAllText(ConfigPath));
        Assert.Contains(_registry.Password, File.ReadAllText(Path.Combine(bin, "creds", _registry.HostPort.Replace(':', '_'))));

        var seeded = await _registry.SeedImageAsync("basic/helper");
        var result = await _scratch.Client(tweak: o => o with { DockerConfig = config }).PullAsync(Reference.Parse(seeded.Reference), null, _scratch.Store);
        Assert.Equal(seeded.Manifest.Digest, result.Target.Digest);
        Assert.True(client.Logout(_registry.HostPort).WasLoggedIn);
        Assert.Null(await config.GetCredentialsAsync(_registry.HostPort));
    }

    [Fact]
    public async Task Wrong_password_names_the_registry_and_stores_nothing()
    {
        var ex = await Assert.ThrowsAsync<RegistryAuthException>(() => _scratch.Client().LoginAsync(_registry.HostPort, _registry.Username, "wrong"));
        Assert.Equal($"login to {_registry.HostPort} failed: unauthorized: incorrect username or password", ex.Message);
        Assert.Equal(_registry.HostPort, ex.Registry);
        Assert.False(File.Exists(ConfigPath));
    }
}

/// <summary>Bearer token auth: a real registry trusting a token server run by the test.</summary>
public sealed class TokenAuthTests : IAsyncLifetime, IDisposable
{
    private RegistryServer _registry = null!;
    private readonly Scratch _scratch = new();

    public async Task InitializeAsync() => _registry = await RegistryServer.StartAsync(RegistryShape.Token);

    public async Task DisposeAsync() => await _registry.DisposeAsync();

    public void Dispose() => _scratch.Dispose();

    private string ConfigPath => Path.Combine(_scratch.DockerConfigDir, "config.json");

    [Fact]
    public async Task Login_stores_the_refresh_token_and_push_and_pull_use_it_with_the_right_scopes()
    {
        var login = await _scratch.Client().LoginAsync(_registry.HostPort, _registry.Username, _registry.Password);
        Assert.True(login.IdentityTokenStored);
        var entry = JsonNode.Parse(File.ReadAllText(ConfigPath))!["auths"]![_registry.HostPort]!;
        Assert.StartsWith("rt-", (string?)entry["identitytoken"]);
        Assert.Equal(Convert.ToBase64String(Encoding.UTF8.GetBytes($"{_registry.Username}:")), (string?)entry["auth"]);
        var loginRequest = Assert.Single(_registry.Tokens!.Requests);
        Assert.True(loginRequest.OfflineToken && loginRequest.HadBasicAuth);

        var image = await TestImages.CreateAsync(_scratch.Store, "amd64", TestImages.Random(20_000));
        var target = Reference.Parse($"{_registry.HostPort}/token/app:1");
        var client = _scratch.Client();
        await client.PushAsync(target, image.Manifest, _scratch.Store);
        var result = await client.PullAsync(target, null, _scratch.NewStore("pulled"));
        Assert.Equal(image.Manifest.Digest, result.Target.Digest);

        var after = _registry.Tokens.Requests.Skip(1).ToList();
        Assert.All(after, r => Assert.Equal(("POST", "refresh_token", true), (r.Method, r.GrantType, r.Granted)));
        Assert.Contains(after, r => r.Scopes.Contains("repository:token/app:pull,push"));
        // Tokens are reused per scope: one for push, at most one more for pull, not one per request.
        Assert.InRange(after.Count, 1, 2);
        string refresh = (string)entry["identitytoken"]!;
        Assert.DoesNotContain(_scratch.Log, l => l.Contains(refresh, StringComparison.Ordinal) || l.Contains(_registry.Password, StringComparison.Ordinal) || l.Contains("eyJ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Without_a_refresh_token_user_and_password_are_stored_and_sent_as_Basic_to_the_token_server()
    {
        _registry.Tokens!.IssueRefreshTokens = false;
        var login = await _scratch.Client().LoginAsync(_registry.HostPort, _registry.Username, _registry.Password);
        Assert.False(login.IdentityTokenStored);
        var seeded = await _registry.SeedImageAsync("token/seeded");
        var result = await _scratch.Client().PullAsync(Reference.Parse(seeded.Reference), null, _scratch.Store);
        Assert.Equal(seeded.Manifest.Digest, result.Target.Digest);
        var pull = _registry.Tokens.Requests.Last();
        Assert.Equal(("GET", true, true), (pull.Method, pull.HadBasicAuth, pull.Granted));
        Assert.Equal(["repository:token/seeded:pull"], pull.Scopes);
    }

    [Fact]
    public async Task Wrong_password_and_anonymous_access_fail_with_the_registry_named()
    {
        var ex = await Assert.ThrowsAsync<RegistryAuthException>(() => _scratch.Client().LoginAsync(_registry.HostPort, _registry.Username, "nope"));
        Assert.Equal($"login to {_registry.HostPort} failed: unauthorized: incorrect username or password", ex.Message);
        Assert.False(File.Exists(ConfigPath));

        var seeded = await _registry.SeedImageAsync("token/private");
        var denied = await Assert.ThrowsAsync<RegistryAuthException>(() => _scratch.Client().PullAsync(Reference.Parse(seeded.Reference), null, _scratch.Store));
        Assert.Contains($"pull access denied for {_registry.HostPort}/token/private", denied.Message);
    }
}
