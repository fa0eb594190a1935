using System.Text.Json.Serialization;

namespace Img.Registry;

/// <summary>A token server's answer (docker token auth spec; OAuth2 names as fallbacks).</summary>
internal sealed class TokenResponse
{
    [JsonPropertyName("token")] public string? Token { get; set; }
    [JsonPropertyName("access_token")] public string? AccessToken { get; set; }
    [JsonPropertyName("refresh_token")] public string? RefreshToken { get; set; }
    [JsonPropertyName("expires_in")] public int ExpiresIn { get; set; }
    [JsonPropertyName("issued_at")] public DateTimeOffset? IssuedAt { get; set; }
}

/// <summary>The distribution error envelope: <c>{"errors":[{"code","message","detail"}]}</c>.</summary>
internal sealed class ErrorEnvelope
{
    [JsonPropertyName("errors")] public List<ErrorEntry>? Errors { get; set; }
}

internal sealed class ErrorEntry
{
    [JsonPropertyName("code")] public string? Code { get; set; }
    [JsonPropertyName("message")] public string? Message { get; set; }
}

/// <summary>The JSON a docker credential helper reads and writes.</summary>
internal sealed class HelperCredentials
{
    [JsonPropertyName("ServerURL")] public string? ServerURL { get; set; }
    [JsonPropertyName("Username")] public string? Username { get; set; }
    [JsonPropertyName("Secret")] public string? Secret { get; set; }
}

/// <summary><c>registries.json</c>: pull mirrors per registry and registries allowed over plain HTTP.</summary>
public sealed class RegistriesFile
{
    [JsonPropertyName("mirrors")] public Dictionary<string, List<string>>? Mirrors { get; set; }
    [JsonPropertyName("insecure")] public List<string>? Insecure { get; set; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(TokenResponse))]
[JsonSerializable(typeof(ErrorEnvelope))]
[JsonSerializable(typeof(HelperCredentials))]
[JsonSerializable(typeof(RegistriesFile))]
internal sealed partial class RegistryJsonContext : JsonSerializerContext;
