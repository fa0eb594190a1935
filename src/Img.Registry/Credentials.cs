namespace Img.Registry;

/// <summary>What a registry login yields: a user and password, or an identity (refresh) token.</summary>
public sealed record Credentials(string Username, string? Password, string? IdentityToken = null)
{
    /// <summary>True when neither password nor identity token is set.</summary>
    public bool IsEmpty => string.IsNullOrEmpty(Password) && string.IsNullOrEmpty(IdentityToken);

    // Never print secrets, even by accident through string interpolation.
    public override string ToString() => $"Credentials {{ Username = {Username} }}";
}

/// <summary>docker's naming of login servers (registry.ConvertToHostname and friends).</summary>
public static class ServerAddress
{
    /// <summary>The key docker stores Docker Hub credentials under.</summary>
    public const string DockerHubKey = "https://index.docker.io/v1/";

    /// <summary>Strips <c>http(s)://</c> and everything after the first <c>/</c>.</summary>
    public static string ConvertToHostname(string url)
    {
        string stripped = url.StartsWith("http://", StringComparison.Ordinal) ? url["http://".Length..]
            : url.StartsWith("https://", StringComparison.Ordinal) ? url["https://".Length..]
            : url;
        int slash = stripped.IndexOf('/');
        return slash < 0 ? stripped : stripped[..slash];
    }

    /// <summary>
    /// The server key for <c>img login/logout [SERVER]</c>: empty (or Docker Hub's own names) means
    /// <see cref="DockerHubKey"/>; anything else is reduced to its hostname.
    /// </summary>
    public static string NormalizeLoginServer(string? server)
    {
        if (string.IsNullOrWhiteSpace(server) || server == DockerHubKey || server == "docker.io")
            return DockerHubKey;
        return ConvertToHostname(server.Trim());
    }

    /// <summary>The credential key for a registry host being contacted (Docker Hub hosts map to its v1 key).</summary>
    public static string CredentialKey(string registryHost) =>
        IsDockerHub(registryHost) ? DockerHubKey : registryHost;

    /// <summary>The host to talk the v2 API with for a login server key.</summary>
    public static string ApiHost(string serverKey) =>
        serverKey == DockerHubKey || IsDockerHub(ConvertToHostname(serverKey)) ? "registry-1.docker.io" : ConvertToHostname(serverKey);

    private static bool IsDockerHub(string host) =>
        host is "docker.io" or "index.docker.io" or "registry-1.docker.io";
}
