using System.Text.Json.Nodes;
using Img.Oci;
using Img.TestSupport;

namespace Img.Registry.Tests;

/// <summary>Pull mirrors from registries.json, tried before the origin with fallback to it.</summary>
public sealed class MirrorTests : IAsyncLifetime, IDisposable
{
    private RegistryServer _origin = null!;
    private RegistryServer _mirror = null!;
    private readonly Scratch _scratch = new();

    public async Task InitializeAsync()
    {
        _origin = await RegistryServer.StartAsync();
        _mirror = await RegistryServer.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _origin.DisposeAsync();
        await _mirror.DisposeAsync();
    }

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public async Task Pulls_go_to_the_mirror_first_and_fall_back_to_the_origin()
    {
        string file = Path.Combine(_scratch.Root, "img", "registries.json");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        File.WriteAllText(file, $$"""{"mirrors":{"{{_origin.HostPort}}":["http://{{_mirror.HostPort}}"]},"insecure":["myreg:5000"]}""");
        var fromFile = RegistryOptions.FromEnvironment(["https://other:443"], registriesFile: file);
        Assert.Equal(["http://" + _mirror.HostPort], fromFile.Mirrors[_origin.HostPort]);
        Assert.True(fromFile.InsecureRegistries.SetEquals(["myreg:5000", "other:443"]));

        // The same name in both, with different content: the mirror's copy wins.
        var onMirror = await _mirror.SeedImageAsync("lib/app", "1", fileContent: "mirror copy");
        await _origin.SeedImageAsync("lib/app", "1", fileContent: "origin copy");
        var onlyOrigin = await _origin.SeedImageAsync("lib/other", "1");
        var client = _scratch.Client(tweak: o => o with { Mirrors = fromFile.Mirrors });

        var viaMirror = await client.PullAsync(Reference.Parse($"{_origin.HostPort}/lib/app:1"), null, _scratch.Store);
        Assert.Equal(onMirror.Manifest.Digest, viaMirror.Target.Digest);
        Assert.True(viaMirror.Source.IsMirror);

        var fallback = await client.PullAsync(Reference.Parse($"{_origin.HostPort}/lib/other:1"), null, _scratch.Store);
        Assert.Equal(onlyOrigin.Manifest.Digest, fallback.Target.Digest);
        Assert.False(fallback.Source.IsMirror);
        Assert.Contains(_scratch.Log, l => l.Contains("trying the next source", StringComparison.Ordinal));
    }

    [Fact]
    public void A_malformed_registries_file_is_an_error_naming_it()
    {
        string file = Path.Combine(_scratch.Root, "bad.json");
        File.WriteAllText(file, """{"mirrors": ["not", "a", "map"]}""");
        var ex = Assert.Throws<RegistryException>(() => RegistryOptions.FromEnvironment(registriesFile: file));
        Assert.StartsWith(file, ex.Message);
    }
}

/// <summary>skopeo reads what img pushes, and img reads what skopeo pushes.</summary>
public sealed class SkopeoInteropTests : IAsyncLifetime, IDisposable
{
    private RegistryServer _registry = null!;
    private readonly Scratch _scratch = new();

    public async Task InitializeAsync() => _registry = await RegistryServer.StartAsync();

    public async Task DisposeAsync() => await _registry.DisposeAsync();

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public async Task Skopeo_copies_an_image_img_pushed()
    {
        var image = await TestImages.CreateAsync(_scratch.Store, "amd64", TestImages.Random(70_000), TestImages.Random(9_000));
        await _scratch.Client().PushAsync(Reference.Parse($"{_registry.HostPort}/interop/fromimg:v1"), image.Manifest, _scratch.Store);

        string layout = Path.Combine(_scratch.Root, "oci-out");
        (await ProcessRunner.RunAsync("skopeo", ["copy", "--src-tls-verify=false", $"docker://{_registry.HostPort}/interop/fromimg:v1", $"oci:{layout}:v1"], timeout: TimeSpan.FromMinutes(2)))
            .EnsureSuccess("skopeo copy");
        foreach (var blob in image.Blobs.Append(image.Manifest))
            Assert.Equal(await _scratch.Store.ReadAllBytesAsync(blob.Digest), File.ReadAllBytes(Path.Combine(layout, "blobs", "sha256", blob.Digest.Hex)));
    }

    [Fact]
    public async Task Img_pulls_an_image_skopeo_pushed()
    {
        var source = _scratch.NewStore("source");
        var image = await TestImages.CreateAsync(source, "amd64", TestImages.Random(40_000));
        string layout = Path.Combine(_scratch.Root, "oci-in");
        Directory.CreateDirectory(Path.Combine(layout, "blobs", "sha256"));
        foreach (var blob in image.Blobs.Append(image.Manifest))
            File.Copy(source.BlobPath(blob.Digest), Path.Combine(layout, "blobs", "sha256", blob.Digest.Hex));
        File.WriteAllText(Path.Combine(layout, "oci-layout"), """{"imageLayoutVersion":"1.0.0"}""");
        var entry = new JsonObject
        {
            ["mediaType"] = image.Manifest.MediaType,
            ["digest"] = image.Manifest.Digest.ToString(),
            ["size"] = image.Manifest.Size,
            ["annotations"] = new JsonObject { [Annotations.RefName] = "v2" },
        };
        File.WriteAllText(Path.Combine(layout, "index.json"), new JsonObject { ["schemaVersion"] = 2, ["manifests"] = new JsonArray(entry) }.ToJsonString());
        (await ProcessRunner.RunAsync("skopeo", ["copy", "--dest-tls-verify=false", $"oci:{layout}:v2", $"docker://{_registry.HostPort}/interop/fromskopeo:v2"], timeout: TimeSpan.FromMinutes(2)))
            .EnsureSuccess("skopeo copy");

        var result = await _scratch.Client().PullAsync(Reference.Parse($"{_registry.HostPort}/interop/fromskopeo:v2"), Platform.Parse("linux/amd64"), _scratch.Store);
        var pulled = OciJson.Deserialize<Manifest>(await _scratch.Store.ReadAllBytesAsync(result.Manifest.Digest));
        Assert.Equal(image.Layers[0].Digest, Assert.Single(pulled.Layers).Digest);
        Assert.Equal(await source.ReadAllBytesAsync(image.Layers[0].Digest), await _scratch.Store.ReadAllBytesAsync(image.Layers[0].Digest));
        Assert.Equal(await source.ReadAllBytesAsync(image.Config.Digest), await _scratch.Store.ReadAllBytesAsync(pulled.Config.Digest));
    }
}
