using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Img.Oci;

namespace Img.TestSupport;

/// <summary>How a test registry guards itself.</summary>
public enum RegistryShape
{
    /// <summary>Plain HTTP, no auth.</summary>
    Plain,
    /// <summary>HTTPS with a certificate from a CA the test made (<see cref="RegistryServer.CaCertificatePath"/>).</summary>
    Tls,
    /// <summary>Plain HTTP with htpasswd Basic auth.</summary>
    Basic,
    /// <summary>Plain HTTP with Bearer tokens from a <see cref="TokenServer"/> in the test process.</summary>
    Token,
}

/// <summary>An image <see cref="RegistryServer.SeedImageAsync"/> put into the registry.</summary>
public sealed record SeededImage(string Reference, Descriptor Manifest, byte[] ManifestBytes, Descriptor Config, Descriptor Layer, string FileName, byte[] FileContent);

/// <summary>
/// A real CNCF distribution registry (Debian's <c>/usr/bin/docker-registry</c>) on a free loopback port
/// with its own temp storage, killed on dispose.
/// </summary>
public sealed class RegistryServer : IAsyncDisposable
{
    public const string RegistryBinary = "/usr/bin/docker-registry";

    private readonly Process _process;
    private readonly StringBuilder _log;
    private readonly TestCertificateAuthority? _ca;

    private RegistryServer(RegistryShape shape, string dir, int port, Process process, StringBuilder log, TestCertificateAuthority? ca, TokenServer? tokens)
    {
        Shape = shape;
        Directory = dir;
        Port = port;
        _process = process;
        _log = log;
        _ca = ca;
        Tokens = tokens;
    }

    public RegistryShape Shape { get; }

    /// <summary>The temp directory holding config, storage and certificates.</summary>
    public string Directory { get; }

    public int Port { get; }

    /// <summary><c>127.0.0.1:PORT</c>, the registry part of image references.</summary>
    public string HostPort => $"127.0.0.1:{Port}";

    public Uri BaseAddress => new($"{(Shape == RegistryShape.Tls ? "https" : "http")}://{HostPort}/");

    public string StorageDirectory => Path.Combine(Directory, "storage");

    /// <summary>Credentials accepted by the Basic and Token shapes.</summary>
    public string Username => DefaultUsername;

    public string Password => DefaultPassword;

    private const string DefaultUsername = "imguser";
    private const string DefaultPassword = "s3cret-Pa55";

    /// <summary>The token server of the Token shape.</summary>
    public TokenServer? Tokens { get; }

    /// <summary>PEM of the CA that signed the TLS shape's certificate.</summary>
    public string? CaCertificatePath => Shape == RegistryShape.Tls ? Path.Combine(Directory, "ca.crt") : null;

    /// <summary>A docker-style certs.d root holding <c>HostPort/ca.crt</c> for the TLS shape.</summary>
    public string? CertsDirectory => Shape == RegistryShape.Tls ? Path.Combine(Directory, "certs.d") : null;

    /// <summary>What the registry printed so far, for failure messages.</summary>
    public string Log { get { lock (_log) return _log.ToString(); } }

    public static async Task<RegistryServer> StartAsync(RegistryShape shape = RegistryShape.Plain)
    {
        if (!File.Exists(RegistryBinary))
            throw new InvalidOperationException($"{RegistryBinary} is missing: run tools/setup-machine.sh (package docker-registry)");
        for (int attempt = 1; ; attempt++)
        {
            var dir = Path.Combine(Path.GetTempPath(), $"img-registry-{Guid.NewGuid():N}");
            System.IO.Directory.CreateDirectory(dir);
            TokenServer? tokens = null;
            TestCertificateAuthority? ca = null;
            try
            {
                int port = FreePort.Pick();
                var yaml = new StringBuilder();
                yaml.AppendLine("version: 0.1");
                yaml.AppendLine("log:\n  level: warn\n  accesslog:\n    disabled: true");
                yaml.AppendLine($"storage:\n  filesystem:\n    rootdirectory: {Path.Combine(dir, "storage")}\n  delete:\n    enabled: true\n  maintenance:\n    uploadpurging:\n      enabled: false");
                yaml.AppendLine($"http:\n  addr: 127.0.0.1:{port}\n  secret: img-test-secret");
                if (shape == RegistryShape.Tls)
                {
                    ca = new TestCertificateAuthority();
                    var (cert, key) = ca.IssueServerCertificate();
                    File.WriteAllText(Path.Combine(dir, "server.crt"), cert);
                    File.WriteAllText(Path.Combine(dir, "server.key"), key);
                    File.WriteAllText(Path.Combine(dir, "ca.crt"), ca.CertificatePem);
                    var certsd = Path.Combine(dir, "certs.d", $"127.0.0.1:{port}");
                    System.IO.Directory.CreateDirectory(certsd);
                    File.WriteAllText(Path.Combine(certsd, "ca.crt"), ca.CertificatePem);
                    yaml.AppendLine($"  tls:\n    certificate: {Path.Combine(dir, "server.crt")}\n    key: {Path.Combine(dir, "server.key")}");
                }
                if (shape == RegistryShape.Basic)
                {
                    var htpasswd = await ProcessRunner.RunAsync("htpasswd", ["-Bbn", DefaultUsername, DefaultPassword], timeout: TimeSpan.FromSeconds(30));
                    htpasswd.EnsureSuccess("htpasswd");
                    File.WriteAllText(Path.Combine(dir, "htpasswd"), htpasswd.Stdout.Trim() + "\n");
                    yaml.AppendLine($"auth:\n  htpasswd:\n    realm: img-test\n    path: {Path.Combine(dir, "htpasswd")}");
                }
                if (shape == RegistryShape.Token)
                {
                    tokens = TokenServer.Start(DefaultUsername, DefaultPassword);
                    File.WriteAllText(Path.Combine(dir, "token-root.pem"), tokens.RootCertificatePem);
                    yaml.AppendLine($"auth:\n  token:\n    realm: {tokens.Realm}\n    service: {TokenServer.Service}\n    issuer: {TokenServer.Issuer}\n    rootcertbundle: {Path.Combine(dir, "token-root.pem")}");
                }
                var config = Path.Combine(dir, "config.yml");
                File.WriteAllText(config, yaml.ToString());

                var log = new StringBuilder();
                var psi = new ProcessStartInfo(RegistryBinary) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
                psi.ArgumentList.Add("serve");
                psi.ArgumentList.Add(config);
                var process = Process.Start(psi)!;
                process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.AppendLine(e.Data); };
                process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.AppendLine(e.Data); };
                process.BeginOutputReadLine();
                process.BeginErrorReadLine();
                var registry = new RegistryServer(shape, dir, port, process, log, ca, tokens);
                if (await registry.WaitReadyAsync(TimeSpan.FromSeconds(20)))
                    return registry;
                string output = registry.Log;
                await registry.DisposeAsync();
                if (attempt >= 5 || !output.Contains("address already in use", StringComparison.Ordinal))
                    throw new InvalidOperationException($"docker-registry did not start on port {port}:\n{output}");
            }
            catch when (attempt < 5)
            {
                if (tokens is not null) await tokens.DisposeAsync();
                ca?.Dispose();
                try { System.IO.Directory.Delete(dir, true); } catch (IOException) { }
            }
        }
    }

    private async Task<bool> WaitReadyAsync(TimeSpan limit)
    {
        using var client = CreateHttpClient();
        var deadline = DateTime.UtcNow + limit;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited) return false;
            try
            {
                using var r = await client.GetAsync(new Uri(BaseAddress, "v2/"));
                if (r.StatusCode is HttpStatusCode.OK or HttpStatusCode.Unauthorized) return true;
            }
            catch (HttpRequestException) { }
            await Task.Delay(50);
        }
        return false;
    }

    /// <summary>An HttpClient for direct requests to the registry (trusting the test CA; no credentials).</summary>
    public HttpClient CreateHttpClient()
    {
        var handler = new SocketsHttpHandler { AllowAutoRedirect = false };
        if (_ca is not null)
        {
            var ca = _ca.Certificate;
            handler.SslOptions.RemoteCertificateValidationCallback = (_, cert, chain, errors) =>
            {
                if (errors == System.Net.Security.SslPolicyErrors.None) return true;
                if (cert is null) return false;
                using var custom = new System.Security.Cryptography.X509Certificates.X509Chain();
                custom.ChainPolicy.TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust;
                custom.ChainPolicy.CustomTrustStore.Add(ca);
                custom.ChainPolicy.RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck;
                return custom.Build(new System.Security.Cryptography.X509Certificates.X509Certificate2(cert));
            };
        }
        return new HttpClient(handler) { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>The Authorization header to use for <paramref name="repository"/> with pull and push, or null when open.</summary>
    public AuthenticationHeaderValue? AuthorizationFor(string repository) => Shape switch
    {
        RegistryShape.Basic => new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Username}:{Password}"))),
        RegistryShape.Token => new AuthenticationHeaderValue("Bearer", Tokens!.CreateToken(Username, [$"repository:{repository}:pull,push"])),
        _ => null,
    };

    /// <summary>
    /// Pushes a tiny one-layer image (a gzip tar with one file) with plain HTTP requests, independent of
    /// img's own client, and returns what was pushed. The reference is <c>127.0.0.1:PORT/repository:tag</c>.
    /// </summary>
    public Task<SeededImage> SeedImageAsync(string repository, string tag = "latest", string architecture = "amd64", string? fileContent = null)
    {
        const string fileName = "hello.txt";
        byte[] content = Encoding.UTF8.GetBytes(fileContent ?? $"hello from {repository}:{tag} ({architecture})\n");
        var (layer, diffId) = BuildLayer(fileName, content);
        return SeedAsync(repository, tag, architecture, layer, diffId, "/bin/sh", fileName, content);
    }

    /// <summary>
    /// Pushes a busybox image made from the host's static <c>/bin/busybox</c> (package busybox-static):
    /// <c>/bin/busybox</c> plus <c>/bin/sh</c> linking to it, <c>CMD ["sh"]</c>. For tests that RUN things.
    /// </summary>
    public Task<SeededImage> SeedBusyboxAsync(string repository = "library/busybox", string tag = "latest", string busyboxPath = "/bin/busybox")
    {
        if (!File.Exists(busyboxPath))
            throw new InvalidOperationException($"{busyboxPath} is missing: run tools/setup-machine.sh (package busybox-static)");
        byte[] busybox = File.ReadAllBytes(busyboxPath);
        var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            var when = new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero);
            const UnixFileMode dirMode = (UnixFileMode)0b111_101_101;
            foreach (var dir in new[] { "bin/", "etc/", "tmp/", "root/" })
                writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, dir) { Mode = dir == "tmp/" ? (UnixFileMode)0b1_111_111_111 : dirMode, ModificationTime = when });
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "bin/busybox") { DataStream = new MemoryStream(busybox), Mode = dirMode, ModificationTime = when });
            writer.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "bin/sh") { LinkName = "busybox", ModificationTime = when });
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "etc/passwd")
            {
                DataStream = new MemoryStream(Encoding.ASCII.GetBytes("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")),
                Mode = (UnixFileMode)0b110_100_100,
                ModificationTime = when,
            });
        }
        var (layer, diffId) = Gzip(tar.ToArray());
        string arch = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "arm64" : "amd64";
        return SeedAsync(repository, tag, arch, layer, diffId, "sh", "bin/busybox", busybox);
    }

    private async Task<SeededImage> SeedAsync(string repository, string tag, string architecture, byte[] layerBytes, Digest diffId, string cmd, string fileName, byte[] content)
    {
        var layer = new Descriptor(MediaTypes.OciLayerGzip, Digest.Compute(layerBytes), layerBytes.Length);
        byte[] configBytes = Encoding.UTF8.GetBytes(
            $$"""{"architecture":"{{architecture}}","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["{{cmd}}"]},"rootfs":{"type":"layers","diff_ids":["{{diffId}}"]},"history":[{"created_by":"seeded by img tests"}]}""");
        var config = new Descriptor(MediaTypes.OciConfig, Digest.Compute(configBytes), configBytes.Length);
        var manifest = new Manifest { MediaType = MediaTypes.OciManifest, Config = config, Layers = [layer] };
        byte[] manifestBytes = OciJson.Serialize(manifest);
        var manifestDescriptor = new Descriptor(MediaTypes.OciManifest, Digest.Compute(manifestBytes), manifestBytes.Length)
        {
            Platform = new Platform { OS = "linux", Architecture = architecture },
        };

        using var client = CreateHttpClient();
        var auth = AuthorizationFor(repository);
        await UploadBlobAsync(client, auth, repository, configBytes, config.Digest);
        await UploadBlobAsync(client, auth, repository, layerBytes, layer.Digest);
        using var put = new HttpRequestMessage(HttpMethod.Put, $"v2/{repository}/manifests/{tag}") { Content = new ByteArrayContent(manifestBytes) };
        put.Content.Headers.ContentType = new MediaTypeHeaderValue(MediaTypes.OciManifest);
        put.Headers.Authorization = auth;
        using var response = await client.SendAsync(put);
        await EnsureAsync(response, HttpStatusCode.Created, "put manifest");
        return new SeededImage($"{HostPort}/{repository}:{tag}", manifestDescriptor, manifestBytes, config, layer, fileName, content);
    }

    /// <summary>A gzip layer tar holding one file, and its uncompressed digest (the diff id).</summary>
    public static (byte[] Layer, Digest DiffId) BuildLayer(string fileName, byte[] content)
    {
        var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            var entry = new PaxTarEntry(TarEntryType.RegularFile, fileName)
            {
                DataStream = new MemoryStream(content),
                Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
                ModificationTime = new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero),
            };
            writer.WriteEntry(entry);
        }
        return Gzip(tar.ToArray());
    }

    private static (byte[] Layer, Digest DiffId) Gzip(byte[] tar)
    {
        var gz = new MemoryStream();
        using (var g = new GZipStream(gz, CompressionLevel.Optimal, leaveOpen: true))
            g.Write(tar);
        return (gz.ToArray(), Digest.Compute(tar));
    }

    private static async Task UploadBlobAsync(HttpClient client, AuthenticationHeaderValue? auth, string repository, byte[] bytes, Digest digest)
    {
        using var post = new HttpRequestMessage(HttpMethod.Post, $"v2/{repository}/blobs/uploads/");
        post.Headers.Authorization = auth;
        using var started = await client.SendAsync(post);
        await EnsureAsync(started, HttpStatusCode.Accepted, "start upload");
        var location = new Uri(client.BaseAddress!, started.Headers.Location!);
        var sep = location.Query.Length > 0 ? "&" : "?";
        using var put = new HttpRequestMessage(HttpMethod.Put, new Uri(location + sep + "digest=" + Uri.EscapeDataString(digest.ToString()))) { Content = new ByteArrayContent(bytes) };
        put.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        put.Headers.Authorization = auth;
        using var done = await client.SendAsync(put);
        await EnsureAsync(done, HttpStatusCode.Created, "upload blob");
    }

    private static async Task EnsureAsync(HttpResponseMessage response, HttpStatusCode expected, string what)
    {
        if (response.StatusCode != expected)
            throw new InvalidOperationException($"{what}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
        }
        catch (InvalidOperationException) { }
        catch (TimeoutException) { }
        _process.Dispose();
        if (Tokens is not null) await Tokens.DisposeAsync();
        _ca?.Dispose();
        try { System.IO.Directory.Delete(Directory, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
