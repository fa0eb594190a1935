using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Img.Registry;

/// <summary>
/// Which certificate authorities a registry's TLS certificate may chain to: the system store, plus
/// <c>SSL_CERT_FILE</c>/<c>SSL_CERT_DIR</c>, plus docker's <c>certs.d/&lt;host:port&gt;/*.crt</c>.
/// </summary>
internal sealed class TlsTrust
{
    private readonly X509Certificate2Collection _extraRoots;
    private readonly string _hostPort;

    public TlsTrust(string hostPort, RegistryOptions options)
    {
        _hostPort = hostPort;
        _extraRoots = [];
        foreach (var root in options.CertsDirectories)
        {
            var dir = Path.Combine(root, hostPort);
            if (!Directory.Exists(dir)) continue;
            foreach (var file in Directory.EnumerateFiles(dir, "*.crt").Order(StringComparer.Ordinal))
                Import(file);
        }
        if (options.UseSslCertEnvironment)
        {
            if (Environment.GetEnvironmentVariable("SSL_CERT_FILE") is { Length: > 0 } f && File.Exists(f)) Import(f);
            if (Environment.GetEnvironmentVariable("SSL_CERT_DIR") is { Length: > 0 } dirs)
                foreach (var d in dirs.Split(':', StringSplitOptions.RemoveEmptyEntries))
                    if (Directory.Exists(d))
                        foreach (var file in Directory.EnumerateFiles(d).Where(p => p.EndsWith(".pem", StringComparison.Ordinal) || p.EndsWith(".crt", StringComparison.Ordinal) || IsHashName(p)))
                            Import(file);
        }
    }

    /// <summary>Why the last certificate was refused.</summary>
    public string? LastRejection { get; private set; }

    /// <summary>How many certificates were refused so far: a request compares it before and after to learn
    /// whether its handshake failed on trust (and not because the peer spoke no TLS).</summary>
    public int Rejections => _rejections;

    private int _rejections;

    public bool Validate(X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None) return true;
        if (certificate is null || (errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) != 0)
        {
            return Reject((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0
                ? $"x509: certificate is not valid for {_hostPort}"
                : "x509: no certificate presented");
        }
        if (_extraRoots.Count > 0)
        {
            using var custom = new X509Chain();
            custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            custom.ChainPolicy.CustomTrustStore.AddRange(_extraRoots);
            custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            if (chain is not null)
                foreach (var element in chain.ChainElements) custom.ChainPolicy.ExtraStore.Add(element.Certificate);
            if (custom.Build(certificate as X509Certificate2 ?? new X509Certificate2(certificate))) return true;
        }
        return Reject("x509: certificate signed by unknown authority");
    }

    private bool Reject(string why)
    {
        LastRejection = why;
        Interlocked.Increment(ref _rejections);
        return false;
    }

    private void Import(string file)
    {
        try { _extraRoots.ImportFromPemFile(file); }
        catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or IOException or UnauthorizedAccessException) { }
    }

    private static bool IsHashName(string path) => Path.GetFileName(path) is { Length: 10 } n && n[8] == '.';
}
