using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;

namespace Img.Registry;

/// <summary>One place to send v2 API requests: a scheme and a <c>host[:port]</c>.</summary>
public sealed record RegistryEndpoint(string Scheme, string HostPort, bool IsMirror = false)
{
    public Uri BaseUri => new($"{Scheme}://{HostPort}/");

    public override string ToString() => $"{Scheme}://{HostPort}";
}

/// <summary>
/// Decides how each registry host is reached: https first; plain http only for loopback hosts and
/// insecure registries (as docker does); certificate checks skipped only for insecure registries.
/// Holds one pooled <see cref="HttpClient"/> per host for the life of the process.
/// </summary>
public sealed class RegistryHosts
{
    private static readonly ConcurrentDictionary<string, (HttpClient Client, TlsTrust Trust)> s_clients = new();
    private readonly ConcurrentDictionary<string, RegistryEndpoint> _resolved = new(StringComparer.OrdinalIgnoreCase);

    public RegistryHosts(RegistryOptions options) => Options = options;

    public RegistryOptions Options { get; }

    /// <summary>Whether certificates are not checked and plain http is allowed for the host.</summary>
    public bool IsInsecure(string hostPort) =>
        Options.InsecureRegistries.Contains(hostPort) || Options.InsecureRegistries.Contains(HostOnly(hostPort));

    /// <summary>localhost, 127.0.0.0/8 and ::1 may speak plain http without being declared insecure.</summary>
    public static bool IsLoopback(string hostPort)
    {
        string host = HostOnly(hostPort);
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase)) return true;
        return IPAddress.TryParse(host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip);
    }

    /// <summary>Where to pull from: configured mirrors of the domain first, then the origin.</summary>
    internal IReadOnlyList<RegistryEndpoint?> PullOrder(string domain)
    {
        var list = new List<RegistryEndpoint?>();
        if (Options.Mirrors.TryGetValue(domain, out var mirrors))
            foreach (var m in mirrors)
            {
                if (!Uri.TryCreate(m.Contains("://", StringComparison.Ordinal) ? m : "https://" + m, UriKind.Absolute, out var uri)) continue;
                list.Add(new RegistryEndpoint(uri.Scheme, uri.IsDefaultPort ? uri.Host : $"{uri.Host}:{uri.Port}", IsMirror: true));
            }
        list.Add(null); // the origin, resolved by probing
        return list;
    }

    internal HttpClient ClientFor(string hostPort) => Entry(hostPort).Client;

    internal TlsTrust TrustFor(string hostPort) => Entry(hostPort).Trust;

    private (HttpClient Client, TlsTrust Trust) Entry(string hostPort)
    {
        bool insecure = IsInsecure(hostPort);
        string key = $"{hostPort}|{insecure}|{Options.ConnectTimeout.Ticks}|{string.Join(';', Options.CertsDirectories)}";
        return s_clients.GetOrAdd(key, _ =>
        {
            var trust = new TlsTrust(hostPort, Options);
            var handler = new SocketsHttpHandler
            {
                AllowAutoRedirect = false, // redirects are followed by hand: credentials must not leak to another host
                AutomaticDecompression = DecompressionMethods.None,
                ConnectTimeout = Options.ConnectTimeout,
                PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
                MaxConnectionsPerServer = 16,
                UseCookies = false,
                SslOptions = new SslClientAuthenticationOptions
                {
                    RemoteCertificateValidationCallback = insecure
                        ? (_, _, _, _) => true
                        : (_, cert, chain, errors) => trust.Validate(cert, chain, errors),
                },
            };
            var client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
            client.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue(Options.UserAgent, null));
            return (client, trust);
        });
    }

    /// <summary>The endpoint chosen earlier for a host by <see cref="RegistryClient"/>'s ping, if any.</summary>
    internal bool TryGetResolved(string hostPort, out RegistryEndpoint endpoint) => _resolved.TryGetValue(hostPort, out endpoint!);

    internal void Remember(RegistryEndpoint endpoint) => _resolved[endpoint.HostPort] = endpoint;

    /// <summary>Whether the host may be tried over http after https failed for a reason other than an untrusted certificate.</summary>
    internal bool MayFallBackToHttp(string hostPort) => IsInsecure(hostPort) || IsLoopback(hostPort);

    internal static string HostOnly(string hostPort)
    {
        if (hostPort.StartsWith('['))
        {
            int close = hostPort.IndexOf(']');
            return close > 0 ? hostPort[..(close + 1)] : hostPort;
        }
        int colon = hostPort.LastIndexOf(':');
        return colon > 0 && hostPort.IndexOf(':') == colon ? hostPort[..colon] : hostPort;
    }
}
