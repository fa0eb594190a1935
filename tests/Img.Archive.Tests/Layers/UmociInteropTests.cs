using System.Text;
using Img.Archive.Layers;
using Img.Oci;
using Img.TestSupport;

namespace Img.Archive.Tests.Layers;

/// <summary>umoci, an independent OCI implementation, unpacks layers we write.</summary>
public class UmociInteropTests
{
    [Fact]
    public async Task UmociUnpacksOurLayersWithWhiteouts()
    {
        using var dir = new TempDir();
        var lower = dir.Sub("lower");
        Tree.Write(lower, "etc/keep", "keep");
        Tree.Write(lower, "etc/remove-me", "bye");
        Tree.Write(lower, "var/cache/old", "old");
        var upper = Path.Combine(dir.Path, "upper");
        await TreeCopy.CopyAsync(lower, upper);
        File.Delete(Path.Combine(upper, "etc/remove-me"));
        Tree.Write(upper, "etc/added", "added");
        Tree.Write(upper, "usr/bin/tool", "#!/bin/sh\n", mode: 0b111_101_101);

        var layout = dir.Sub("layout");
        Directory.CreateDirectory(Path.Combine(layout, "blobs", "sha256"));
        async Task<(Digest Digest, long Size)> Blob(byte[] bytes)
        {
            var d = Digest.Compute(bytes);
            await File.WriteAllBytesAsync(Path.Combine(layout, "blobs", "sha256", d.Hex), bytes);
            return (d, bytes.Length);
        }
        var base1 = new MemoryStream();
        var l1 = await LayerWriter.WriteTreeAsync(lower, base1, Compression.Gzip);
        await Blob(base1.ToArray());
        var diff = new MemoryStream();
        var l2 = await LayerWriter.WriteTreeDiffAsync(lower, upper, diff, Compression.Gzip); // umoci 0.4.7 predates zstd layers
        await Blob(diff.ToArray());
        var config = Encoding.UTF8.GetBytes(
            $$$"""{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["{{{l1.DiffId}}}","{{{l2.DiffId}}}"]}}""");
        var cfg = await Blob(config);
        var manifest = Encoding.UTF8.GetBytes(
            $$$"""{"schemaVersion":2,"mediaType":"{{{MediaTypes.OciManifest}}}","config":{"mediaType":"{{{MediaTypes.OciConfig}}}","digest":"{{{cfg.Digest}}}","size":{{{cfg.Size}}}},"layers":[{"mediaType":"{{{l1.MediaType(true)}}}","digest":"{{{l1.Digest}}}","size":{{{l1.Size}}}},{"mediaType":"{{{l2.MediaType(true)}}}","digest":"{{{l2.Digest}}}","size":{{{l2.Size}}}}]}""");
        var man = await Blob(manifest);
        await File.WriteAllTextAsync(Path.Combine(layout, "oci-layout"), """{"imageLayoutVersion":"1.0.0"}""");
        await File.WriteAllTextAsync(Path.Combine(layout, "index.json"),
            $$$"""{"schemaVersion":2,"manifests":[{"mediaType":"{{{MediaTypes.OciManifest}}}","digest":"{{{man.Digest}}}","size":{{{man.Size}}},"annotations":{"org.opencontainers.image.ref.name":"t"}}]}""");

        var bundle = Path.Combine(dir.Path, "bundle");
        var args = new List<string> { "unpack" };
        if (!Tree.IsRoot) args.Add("--rootless");
        args.AddRange(["--image", layout + ":t", bundle]);
        (await ProcessRunner.RunAsync("umoci", args)).EnsureSuccess("umoci unpack");
        var rootfs = Path.Combine(bundle, "rootfs");
        Assert.Equal("keep", File.ReadAllText(Path.Combine(rootfs, "etc/keep")));
        Assert.Equal("added", File.ReadAllText(Path.Combine(rootfs, "etc/added")));
        Assert.False(File.Exists(Path.Combine(rootfs, "etc/remove-me")));
        Assert.Equal(Tree.Describe(upper, withDirMtimes: false), Tree.Describe(rootfs, withDirMtimes: false));
    }
}
