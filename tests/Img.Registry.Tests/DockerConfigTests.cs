using System.Text;
using System.Text.Json.Nodes;

namespace Img.Registry.Tests;

/// <summary>docker's config.json and credential helpers, with a real helper program on a PATH dir.</summary>
public sealed class DockerConfigTests : IDisposable
{
    private readonly Scratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    private string ConfigPath => Path.Combine(_scratch.DockerConfigDir, "config.json");

    [Theory]
    [InlineData(null, "https://index.docker.io/v1/")]
    [InlineData("", "https://index.docker.io/v1/")]
    [InlineData("docker.io", "https://index.docker.io/v1/")]
    [InlineData("https://index.docker.io/v1/", "https://index.docker.io/v1/")]
    [InlineData("127.0.0.1:5000", "127.0.0.1:5000")]
    [InlineData("http://127.0.0.1:5000/v2/", "127.0.0.1:5000")]
    [InlineData("https://registry.example.com/some/path", "registry.example.com")]
    public void Login_servers_are_normalised_as_docker_does(string? server, string expected) =>
        Assert.Equal(expected, ServerAddress.NormalizeLoginServer(server));

    [Fact]
    public async Task Writing_keeps_unknown_fields_is_0600_and_leaves_no_temp_files()
    {
        Directory.CreateDirectory(_scratch.DockerConfigDir);
        File.WriteAllText(ConfigPath, """
            {"auths":{"other.example":{"auth":"b3RoZXI6cGFzcw==","email":"x@example.com"}},"psFormat":"table {{.ID}}","proxies":{"default":{"httpProxy":"http://proxy:3128"}},"experimental":"enabled"}
            """);
        var config = new DockerConfig(_scratch.DockerConfigDir);
        await config.StoreCredentialsAsync("127.0.0.1:5000", new Credentials("alice", "pw:with:colons"));

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(ConfigPath));
        Assert.Equal(["config.json"], Directory.GetFiles(_scratch.DockerConfigDir).Select(Path.GetFileName));
        var root = JsonNode.Parse(File.ReadAllText(ConfigPath))!;
        Assert.Equal("table {{.ID}}", (string?)root["psFormat"]);
        Assert.Equal("http://proxy:3128", (string?)root["proxies"]!["default"]!["httpProxy"]);
        Assert.Equal("enabled", (string?)root["experimental"]);
        Assert.Equal("x@example.com", (string?)root["auths"]!["other.example"]!["email"]);
        Assert.Equal(new Credentials("alice", "pw:with:colons"), await config.GetCredentialsAsync("127.0.0.1:5000"));
        Assert.Equal(new Credentials("other", "pass"), await config.GetCredentialsAsync("other.example"));
    }

    [Fact]
    public async Task Entries_saved_under_a_URL_are_found_by_hostname_and_identity_tokens_round_trip()
    {
        Directory.CreateDirectory(_scratch.DockerConfigDir);
        File.WriteAllText(ConfigPath, """{"auths":{"https://reg.example:5000/v2/":{"auth":"dTpw","identitytoken":"refresh-1"}}}""");
        var config = new DockerConfig(_scratch.DockerConfigDir);
        Assert.Equal(new Credentials("u", "p", "refresh-1"), await config.GetCredentialsAsync("reg.example:5000"));
        Assert.True(config.HasLogin("reg.example:5000"));
        Assert.True(config.RemoveLogin("reg.example:5000", out var warning));
        Assert.Null(warning);
        Assert.Null(await config.GetCredentialsAsync("reg.example:5000"));
    }

    [Fact]
    public void A_malformed_config_is_an_error_naming_the_file()
    {
        Directory.CreateDirectory(_scratch.DockerConfigDir);
        File.WriteAllText(ConfigPath, "{not json");
        var ex = Assert.Throws<RegistryException>(() => new DockerConfig(_scratch.DockerConfigDir).HasLogin("x"));
        Assert.Contains(ConfigPath, ex.Message);
    }

    [Theory]
    [InlineData("credHelpers")]
    [InlineData("credsStore")]
    public async Task Credential_helpers_get_store_and_erase(string how)
    {
        string bin = WriteHelper();
        Directory.CreateDirectory(_scratch.DockerConfigDir);
        File.WriteAllText(ConfigPath, how == "credHelpers"
            ? """{"credHelpers":{"reg.example:5000":"test"},"auths":{}}"""
            : """{"credsStore":"test"}""");
        var config = new DockerConfig(_scratch.DockerConfigDir, helperSearchPath: bin);

        Assert.Null(await config.GetCredentialsAsync("reg.example:5000"));
        await config.StoreCredentialsAsync("reg.example:5000", new Credentials("bob", "hunter2"));
        Assert.Equal(new Credentials("bob", "hunter2"), await config.GetCredentialsAsync("reg.example:5000"));
        // The secret lives in the helper, not in config.json (which keeps an empty marker entry).
        string json = File.ReadAllText(ConfigPath);
        Assert.DoesNotContain("hunter2", json);
        Assert.NotNull(JsonNode.Parse(json)!["auths"]!["reg.example:5000"]);

        await config.StoreCredentialsAsync("reg.example:5000", new Credentials("bob", null, "identity-xyz"));
        Assert.Contains("\"Username\":\"<token>\"", File.ReadAllText(Path.Combine(bin, "store", "reg.example_5000")));
        Assert.Equal(new Credentials("", null, "identity-xyz"), await config.GetCredentialsAsync("reg.example:5000"));

        Assert.True(config.RemoveLogin("reg.example:5000", out var warning));
        Assert.Null(warning);
        Assert.False(File.Exists(Path.Combine(bin, "store", "reg.example_5000")));
        Assert.Null(await config.GetCredentialsAsync("reg.example:5000"));
        Assert.False(config.RemoveLogin("reg.example:5000", out _));
    }

    [Fact]
    public async Task A_missing_helper_program_is_a_clear_error()
    {
        Directory.CreateDirectory(_scratch.DockerConfigDir);
        File.WriteAllText(ConfigPath, """{"credsStore":"absent"}""");
        var config = new DockerConfig(_scratch.DockerConfigDir, helperSearchPath: _scratch.Root);
        var ex = await Assert.ThrowsAsync<RegistryException>(() => config.GetCredentialsAsync("reg.example"));
        Assert.Equal("credential helper docker-credential-absent not found in PATH", ex.Message);
    }

    /// <summary>A docker-credential-test that keeps each server's JSON in a file beside itself.</summary>
    private string WriteHelper()
    {
        string bin = Path.Combine(_scratch.Root, "bin");
        Directory.CreateDirectory(bin);
        string script = Path.Combine(bin, "docker-credential-test");
        File.WriteAllText(script, """
            #!/bin/sh
            store="$(dirname "$0")/store"
            mkdir -p "$store"
            key() { printf '%s' "$1" | tr '/:' '__'; }
            case "$1" in
              get)
                read -r server
                f="$store/$(key "$server")"
                if [ -f "$f" ]; then cat "$f"; else echo "credentials not found in native keychain"; exit 1; fi ;;
              store)
                json=$(cat)
                server=$(printf '%s' "$json" | sed -n 's/.*"ServerURL":"\([^"]*\)".*/\1/p')
                printf '%s' "$json" > "$store/$(key "$server")" ;;
              erase)
                read -r server
                rm -f "$store/$(key "$server")" ;;
              *) echo "unknown verb $1" >&2; exit 2 ;;
            esac
            """.Replace("\r", ""));
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return bin;
    }
}
