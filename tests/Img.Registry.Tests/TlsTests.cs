using System.Diagnostics;
using Img.Oci;
using Img.TestSupport;

namespace Img.Registry.Tests;

/// <summary>A registry serving HTTPS with a certificate from a CA the test made.</summary>
public sealed class TlsTests : IAsyncLifetime, IDisposable
{
    private RegistryServer _registry = null!;
    private readonly Scratch _scratch = new();

    public async Task InitializeAsync() => _registry = await RegistryServer.StartAsync(RegistryShape.Tls);

    public async Task DisposeAsync() => await _registry.DisposeAsync();

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public async Task Trusting_the_CA_through_certs_d_pulls_and_pushes_over_https()
    {
        var seeded = await _registry.SeedImageAsync("tls/app");
        var client = _scratch.Client(_registry);
        var result = await client.PullAsync(Reference.Parse(seeded.Reference), null, _scratch.Store);
        Assert.Equal("https", result.Source.Scheme);
        Assert.Equal(seeded.Manifest.Digest, result.Target.Digest);

        var image = await TestImages.CreateAsync(_scratch.Store, "amd64", TestImages.Random(5000));
        await client.PushAsync(Reference.Parse($"{_registry.HostPort}/tls/pushed:1"), image.Manifest, _scratch.Store);
        Assert.Equal(image.Manifest.Digest, (await client.ResolveAsync(Reference.Parse($"{_registry.HostPort}/tls/pushed:1"))).Digest);
    }

    [Fact]
    public async Task An_untrusted_certificate_fails_fast_with_a_clear_error_and_no_http_fallback()
    {
        var seeded = await _registry.SeedImageAsync("tls/untrusted");
        var client = _scratch.Client(); // no certs.d for this registry
        var watch = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<RegistryException>(() => client.PullAsync(Reference.Parse(seeded.Reference), null, _scratch.Store));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"took {watch.Elapsed}");
        Assert.Contains("certificate signed by unknown authority", ex.Message);
        Assert.Contains($"certs.d/{_registry.HostPort}/ca.crt", ex.Message);
        Assert.DoesNotContain(_scratch.Log, l => l.Contains("trying http", StringComparison.Ordinal));
    }

    [Fact]
    public async Task SSL_CERT_FILE_style_trust_and_insecure_registries_also_work()
    {
        var seeded = await _registry.SeedImageAsync("tls/other");
        // certs.d with the CA under another name (*.crt) in a root given by the caller.
        var certsd = Path.Combine(_scratch.Root, "certs.d", _registry.HostPort);
        Directory.CreateDirectory(certsd);
        File.Copy(_registry.CaCertificatePath!, Path.Combine(certsd, "my-ca.crt"));
        var trusted = _scratch.Client(tweak: o => o with { CertsDirectories = [Path.Combine(_scratch.Root, "certs.d")] });
        Assert.Equal(seeded.Manifest.Digest, (await trusted.ResolveAsync(Reference.Parse(seeded.Reference))).Digest);

        var insecure = _scratch.Client(tweak: o => o with { InsecureRegistries = new HashSet<string> { _registry.HostPort } });
        var result = await insecure.PullAsync(Reference.Parse(seeded.Reference), null, _scratch.NewStore("insecure"));
        Assert.Equal("https", result.Source.Scheme);
    }

    [Fact]
    public async Task A_plain_url_is_fetched_with_the_registries_trust()
    {
        var url = new Uri($"https://{_registry.HostPort}/v2/");
        var certsd = Path.Combine(_scratch.Root, "url-certs.d", _registry.HostPort);
        Directory.CreateDirectory(certsd);
        File.Copy(_registry.CaCertificatePath!, Path.Combine(certsd, "ca.crt"));
        var trusted = _scratch.Client(tweak: o => o with { CertsDirectories = [Path.Combine(_scratch.Root, "url-certs.d")] });
        using (var response = await trusted.GetUrlAsync(url))
            Assert.True(response.IsSuccessStatusCode, $"status {(int)response.StatusCode}");

        var ex = await Assert.ThrowsAsync<RegistryException>(() => _scratch.Client().GetUrlAsync(url));
        Assert.Contains("certificate signed by unknown authority", ex.Message);
    }
}
