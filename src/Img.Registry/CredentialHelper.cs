using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace Img.Registry;

/// <summary>
/// A docker credential helper program <c>docker-credential-&lt;name&gt;</c> on PATH, spoken to with
/// its stdin/stdout protocol: <c>get</c>, <c>store</c>, <c>erase</c>.
/// </summary>
public sealed class CredentialHelper(string name, string? searchPath = null)
{
    /// <summary>Username helpers use to mark the secret as an identity token.</summary>
    public const string TokenUsername = "<token>";

    // "<token>" stays readable in the helper's JSON instead of becoming \u003Ctoken\u003E.
    private static readonly RegistryJsonContext s_relaxed = new(new JsonSerializerOptions
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });

    public string Name { get; } = name;

    public string Program => "docker-credential-" + Name;

    /// <summary>The stored credentials for a server, or null when the helper has none.</summary>
    public async Task<Credentials?> GetAsync(string server, CancellationToken ct = default)
    {
        var (code, stdout, stderr) = await RunAsync("get", server, ct).ConfigureAwait(false);
        if (code != 0)
        {
            // The helpers' shared "not found" message (docker-credential-helpers credentials.errCredentialsNotFound).
            string text = (stdout + stderr).Trim();
            if (text.Contains("credentials not found", StringComparison.OrdinalIgnoreCase)) return null;
            throw new RegistryException($"error getting credentials from {Program}: {text}");
        }
        HelperCredentials? c;
        try { c = JsonSerializer.Deserialize(stdout, RegistryJsonContext.Default.HelperCredentials); }
        catch (JsonException e) { throw new RegistryException($"error getting credentials from {Program}: invalid output: {e.Message}"); }
        if (c is null || (string.IsNullOrEmpty(c.Username) && string.IsNullOrEmpty(c.Secret))) return null;
        return c.Username == TokenUsername
            ? new Credentials("", null, c.Secret)
            : new Credentials(c.Username ?? "", c.Secret);
    }

    public async Task StoreAsync(string server, Credentials credentials, CancellationToken ct = default)
    {
        var payload = new HelperCredentials
        {
            ServerURL = server,
            Username = string.IsNullOrEmpty(credentials.IdentityToken) ? credentials.Username : TokenUsername,
            Secret = string.IsNullOrEmpty(credentials.IdentityToken) ? credentials.Password : credentials.IdentityToken,
        };
        var (code, stdout, stderr) = await RunAsync("store", JsonSerializer.Serialize(payload, s_relaxed.HelperCredentials), ct).ConfigureAwait(false);
        if (code != 0)
            throw new RegistryException($"error storing credentials in {Program}: {(stdout + stderr).Trim()}");
    }

    public async Task EraseAsync(string server, CancellationToken ct = default)
    {
        var (code, stdout, stderr) = await RunAsync("erase", server, ct).ConfigureAwait(false);
        if (code != 0)
            throw new RegistryException($"error erasing credentials in {Program}: {(stdout + stderr).Trim()}");
    }

    private async Task<(int Code, string Stdout, string Stderr)> RunAsync(string verb, string input, CancellationToken ct)
    {
        string program = FindOnPath(Program, searchPath ?? Environment.GetEnvironmentVariable("PATH"))
            ?? throw new RegistryException($"credential helper {Program} not found in PATH");
        var psi = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardInputEncoding = new UTF8Encoding(false),
        };
        psi.ArgumentList.Add(verb);
        using var p = Process.Start(psi) ?? throw new RegistryException($"cannot start {program}");
        var stdout = p.StandardOutput.ReadToEndAsync(ct);
        var stderr = p.StandardError.ReadToEndAsync(ct);
        await p.StandardInput.WriteAsync(input.AsMemory(), ct).ConfigureAwait(false);
        p.StandardInput.Close();
        try
        {
            await p.WaitForExitAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            throw;
        }
        return (p.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
    }

    internal static string? FindOnPath(string program, string? path)
    {
        foreach (var dir in (path ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, program);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}
