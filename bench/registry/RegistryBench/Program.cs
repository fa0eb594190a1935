// Drives Img.Registry the way `img push` / `img pull` will, for bench/registry/run.sh.
//   prepare <store> <layer-file>   ingest the file as a layer (streamed), write config + manifest; prints the manifest digest
//   push <store> <manifest-digest> <ref>
//   pull <store> <ref>
//   layout <store> <manifest-digest> <dir>   an OCI layout (hard links) for skopeo
using System.Diagnostics;
using System.Text;
using Img.Content;
using Img.Oci;
using Img.Registry;

var options = new RegistryOptions { Log = Environment.GetEnvironmentVariable("BENCH_LOG") is { Length: > 0 } ? Console.Error.WriteLine : null };
var client = new RegistryClient(options);
var watch = Stopwatch.StartNew();
switch (args)
{
    case ["prepare", var storeDir, var layerFile]:
    {
        var store = new ContentStore(storeDir);
        await using var file = File.OpenRead(layerFile);
        var layer = await store.IngestAsync(file, MediaTypes.OciLayer);
        var config = await store.WriteBytesAsync(Encoding.UTF8.GetBytes(
            $$$"""{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["{{{layer.Digest}}}"]}}"""), MediaTypes.OciConfig);
        var manifest = await store.WriteBytesAsync(OciJson.Serialize(new Manifest { MediaType = MediaTypes.OciManifest, Config = config, Layers = [layer] }), MediaTypes.OciManifest);
        Console.WriteLine($"{manifest.Digest} {manifest.Size}");
        break;
    }
    case ["push", var storeDir, var digest, var reference]:
    {
        var store = new ContentStore(storeDir);
        var d = Digest.Parse(digest);
        var root = new Descriptor(MediaTypes.OciManifest, d, store.SizeOf(d) ?? throw new InvalidOperationException($"{d} not in store"));
        var result = await client.PushAsync(Reference.Parse(reference), root, store);
        Console.Error.WriteLine($"pushed {reference}: uploaded {result.Uploaded}, existing {result.Existing} in {watch.Elapsed.TotalSeconds:0.00}s");
        break;
    }
    case ["pull", var storeDir, var reference]:
    {
        var result = await client.PullAsync(Reference.Parse(reference), Platform.Parse("linux/amd64"), new ContentStore(storeDir));
        Console.Error.WriteLine($"pulled {reference}: {result.Size} bytes in {watch.Elapsed.TotalSeconds:0.00}s");
        break;
    }
    case ["layout", var storeDir, var digest, var dir]:
    {
        var store = new ContentStore(storeDir);
        var d = Digest.Parse(digest);
        var manifest = OciJson.Deserialize<Manifest>(await store.ReadAllBytesAsync(d));
        Directory.CreateDirectory(Path.Combine(dir, "blobs", "sha256"));
        foreach (var blob in manifest.Layers.Prepend(manifest.Config).Append(new Descriptor(MediaTypes.OciManifest, d, store.SizeOf(d)!.Value)))
            File.CreateSymbolicLink(Path.Combine(dir, "blobs", "sha256", blob.Digest.Hex), store.BlobPath(blob.Digest));
        File.WriteAllText(Path.Combine(dir, "oci-layout"), """{"imageLayoutVersion":"1.0.0"}""");
        File.WriteAllText(Path.Combine(dir, "index.json"),
            $$$"""{"schemaVersion":2,"manifests":[{"mediaType":"{{{MediaTypes.OciManifest}}}","digest":"{{{d}}}","size":{{{store.SizeOf(d)}}},"annotations":{"org.opencontainers.image.ref.name":"bench"}}]}""");
        break;
    }
    default:
        Console.Error.WriteLine("usage: RegistryBench prepare|push|pull|layout …");
        return 2;
}
return 0;
