using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Img.Content;
using Img.Oci;
using Img.TestSupport;

namespace Img.Registry.Tests;

/// <summary>An image written into a local content store by a test.</summary>
public sealed record TestImage(Descriptor Manifest, Descriptor Config, IReadOnlyList<Descriptor> Layers)
{
    public IEnumerable<Descriptor> Blobs => Layers.Prepend(Config);
}

public static class TestImages
{
    /// <summary>Writes a manifest with one gzip layer per content, plus its config, into the store.</summary>
    public static async Task<TestImage> CreateAsync(ContentStore store, string architecture, params byte[][] layerContents)
    {
        var layers = new List<Descriptor>();
        var diffIds = new List<string>();
        for (int i = 0; i < layerContents.Length; i++)
        {
            var (bytes, diffId) = RegistryServer.BuildLayer($"file{i}.bin", layerContents[i]);
            layers.Add(await store.WriteBytesAsync(bytes, MediaTypes.OciLayerGzip));
            diffIds.Add($"\"{diffId}\"");
        }
        var configBytes = Encoding.UTF8.GetBytes(
            $$$"""{"architecture":"{{{architecture}}}","os":"linux","config":{"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":[{{{string.Join(',', diffIds)}}}]}}""");
        var config = await store.WriteBytesAsync(configBytes, MediaTypes.OciConfig);
        var manifestBytes = OciJson.Serialize(new Manifest { MediaType = MediaTypes.OciManifest, Config = config, Layers = layers });
        var manifest = await store.WriteBytesAsync(manifestBytes, MediaTypes.OciManifest);
        return new TestImage(manifest with { Platform = new Platform { OS = "linux", Architecture = architecture } }, config, layers);
    }

    /// <summary>Writes an OCI index over the given platform manifests.</summary>
    public static async Task<Descriptor> CreateIndexAsync(ContentStore store, params TestImage[] images)
    {
        var bytes = OciJson.Serialize(new ImageIndex { MediaType = MediaTypes.OciIndex, Manifests = images.Select(i => i.Manifest).ToList() });
        return await store.WriteBytesAsync(bytes, MediaTypes.OciIndex);
    }

    public static byte[] Random(int size) => RandomNumberGenerator.GetBytes(size);
}

/// <summary>A temp directory with a content store and a docker config dir, removed at the end.</summary>
public sealed class Scratch : IDisposable
{
    public Scratch()
    {
        Root = Path.Combine(Path.GetTempPath(), $"img-registry-test-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Root);
        Store = new ContentStore(Path.Combine(Root, "store"));
        DockerConfigDir = Path.Combine(Root, "docker");
    }

    public string Root { get; }

    public ContentStore Store { get; }

    public string DockerConfigDir { get; }

    public ConcurrentQueue<string> Log { get; } = new();

    public ContentStore NewStore(string name) => new(Path.Combine(Root, name));

    public RegistryClient Client(RegistryServer? server = null, Func<RegistryOptions, RegistryOptions>? tweak = null)
    {
        var options = new RegistryOptions
        {
            DockerConfig = new DockerConfig(DockerConfigDir),
            CertsDirectories = server?.CertsDirectory is { } c ? [c] : [],
            UseSslCertEnvironment = false,
            RetryBaseDelay = TimeSpan.FromMilliseconds(50),
            Log = Log.Enqueue,
        };
        return new RegistryClient(tweak is null ? options : tweak(options));
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, true); } catch (IOException) { }
    }
}
