using System.Text.Json;
using Img.Content;

namespace Img.Registry;

/// <summary>How to reach registries: trust, insecure hosts, mirrors, credentials, limits. Immutable once a client uses it.</summary>
public sealed record RegistryOptions
{
    /// <summary>Registries (<c>host[:port]</c>) reachable over plain HTTP and whose TLS certificates are not verified.</summary>
    public IReadOnlySet<string> InsecureRegistries { get; init; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Pull mirrors per registry domain (<c>docker.io</c> → <c>http://127.0.0.1:5000</c>), tried before the origin.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Mirrors { get; init; } = new Dictionary<string, IReadOnlyList<string>>();

    /// <summary>Roots holding docker's per-registry CA directories <c>&lt;root&gt;/&lt;host:port&gt;/*.crt</c>.</summary>
    public IReadOnlyList<string> CertsDirectories { get; init; } = DefaultCertsDirectories();

    /// <summary>Also trust the PEM bundle in <c>SSL_CERT_FILE</c> and the certificates in <c>SSL_CERT_DIR</c>.</summary>
    public bool UseSslCertEnvironment { get; init; } = true;

    /// <summary>Where credentials come from and go to; null means no stored credentials (anonymous unless given explicitly).</summary>
    public DockerConfig? DockerConfig { get; init; }

    /// <summary>Blobs transferred at once.</summary>
    public int Parallelism { get; init; } = 4;

    /// <summary>When set, blobs are uploaded in PATCH chunks of this many bytes instead of one PUT.</summary>
    public long? ChunkSize { get; init; }

    /// <summary>How long to wait for a TCP (and TLS) connection before calling a host unreachable.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long to wait for response headers (uploads of a whole blob get the same budget after their body is sent).</summary>
    public TimeSpan ResponseTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>How long a body may stall between two reads before the transfer counts as dropped.</summary>
    public TimeSpan ReadIdleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>With <see cref="LowSpeedWindow"/>: a body slower than this on average over the window is a failed transfer.</summary>
    public int LowSpeedBytesPerSecond { get; init; } = 1024;

    /// <summary>How long a body may stay below <see cref="LowSpeedBytesPerSecond"/> (a slow drip never trips the idle timeout).</summary>
    public TimeSpan LowSpeedWindow { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The largest blob a pull fetches, whatever its descriptor declares (<see cref="InputLimits.MaxBlobSize"/>).</summary>
    public long MaxBlobSize { get; init; } = InputLimits.DefaultMaxBlobSize;

    /// <summary>Attempts for one request or one blob transfer (the first try included).</summary>
    public int MaxAttempts { get; init; } = 4;

    /// <summary>The first retry delay; doubles each attempt unless the server sends Retry-After.</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The longest wait between retries, Retry-After included.</summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Debug log lines (never with secrets).</summary>
    public Action<string>? Log { get; init; }

    public string UserAgent { get; init; } = "img";

    /// <summary><c>$DOCKER_CONFIG/certs.d</c> (or <c>~/.docker/certs.d</c>) and <c>/etc/docker/certs.d</c>.</summary>
    public static IReadOnlyList<string> DefaultCertsDirectories() =>
        [Path.Combine(DockerConfig.DefaultDirectory(), "certs.d"), "/etc/docker/certs.d"];

    /// <summary><c>$XDG_CONFIG_HOME/img/registries.json</c>, else <c>~/.config/img/registries.json</c>.</summary>
    public static string DefaultRegistriesFile() =>
        Path.Combine(Environment.GetEnvironmentVariable("XDG_CONFIG_HOME") is { Length: > 0 } x ? x
            : Path.Combine(Environment.GetEnvironmentVariable("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config"),
            "img", "registries.json");

    /// <summary>
    /// The options a command line uses: docker's config for credentials, registries.json for mirrors and
    /// insecure hosts, plus the hosts given with <c>--insecure-registry</c>.
    /// </summary>
    public static RegistryOptions FromEnvironment(IEnumerable<string>? insecureRegistries = null, Action<string>? log = null, string? registriesFile = null)
    {
        var file = LoadRegistriesFile(registriesFile ?? DefaultRegistriesFile());
        var insecure = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var h in file?.Insecure ?? []) insecure.Add(StripScheme(h));
        foreach (var h in insecureRegistries ?? []) insecure.Add(StripScheme(h));
        var mirrors = new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase);
        foreach (var (k, v) in file?.Mirrors ?? []) mirrors[k] = v;
        return new RegistryOptions
        {
            InsecureRegistries = insecure,
            Mirrors = mirrors,
            DockerConfig = new DockerConfig(),
            MaxBlobSize = InputLimits.FromEnvironment().MaxBlobSize,
            Log = log,
        };
    }

    /// <summary>Reads a registries.json; null when it does not exist. A malformed file is an error naming it.</summary>
    public static RegistriesFile? LoadRegistriesFile(string path)
    {
        if (!File.Exists(path)) return null;
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(path), RegistryJsonContext.Default.RegistriesFile);
        }
        catch (JsonException e)
        {
            throw new RegistryException($"{path}: invalid registries config: {e.Message}");
        }
    }

    private static string StripScheme(string host) => ServerAddress.ConvertToHostname(host.Trim());
}
