using Img.Archive.Layers;
using Img.Content;
using Img.Oci;

namespace Img.Archive.Tests.Layers;

/// <summary>The way the build engine uses layers: write a diff straight into the content store, then unpack the stored blob.</summary>
public class ContentStoreLayerTests
{
    [Fact]
    public async Task LayerWrittenIntoTheStoreCommitsUnderItsDigestAndUnpacks()
    {
        using var dir = new TempDir();
        var src = dir.Sub("src");
        RoundTripTests.BuildRichTree(src);
        var store = new ContentStore(dir.Sub("store"));
        LayerWriteResult result;
        await using (var writer = store.CreateWriter())
        {
            result = await LayerWriter.WriteTreeAsync(src, writer, Compression.Gzip);
            var (digest, size) = await writer.CommitAsync(result.Digest, result.Size);
            Assert.Equal(result.Digest, digest);
            Assert.Equal(result.Size, size);
        }
        var descriptor = result.ToDescriptor(oci: true);
        Assert.Equal(MediaTypes.OciLayerGzip, descriptor.MediaType);
        Assert.Equal(MediaTypes.DockerLayerGzip, result.MediaType(oci: false));

        var dst = dir.Sub("dst");
        await using (var blob = store.OpenRead(result.Digest))
        {
            var applied = await LayerApplier.ApplyAsync(blob, dst);
            Assert.Equal(result.DiffId, applied.DiffId);
            Assert.True(blob.CanRead); // the caller's stream stays open
        }
        Assert.Equal(Tree.Describe(src), Tree.Describe(dst));
    }
}
