using System.Formats.Tar;
using System.Text;
using Img.Archive.ImageArchive;
using Img.Archive.Tests.Layers;
using Img.Content;
using Img.Oci;

namespace Img.Archive.Tests.ImageArchive;

/// <summary>One layout writer for archives and directories: both spell the same files with the same bytes.</summary>
public class OciLayoutWriterTests
{
    [Fact]
    public async Task ATarAndADirectoryGetTheSameLayout()
    {
        using var dir = new TempDir();
        var store = new ContentStore(dir.Sub("store"));
        var blob = await store.WriteBytesAsync(Encoding.UTF8.GetBytes("layer"), MediaTypes.OciLayerGzip);
        var index = new ImageIndex { Manifests = [blob] };

        var tarPath = Path.Combine(dir.Path, "layout.tar");
        await using (var fs = File.Create(tarPath))
        await using (var tar = new TarWriter(fs, TarEntryFormat.Ustar, leaveOpen: true))
            await WriteAsync(new OciLayoutWriter(new TarLayoutTarget(tar)), store, blob, index);
        var layoutDir = dir.Sub("layout");
        await WriteAsync(new OciLayoutWriter(new DirectoryLayoutTarget(layoutDir)), store, blob, index);

        var fromTar = new SortedDictionary<string, string>(StringComparer.Ordinal);
        await using (var fs = File.OpenRead(tarPath))
        await using (var reader = new TarReader(fs))
        {
            while (await reader.GetNextEntryAsync() is { } entry)
            {
                if (entry.EntryType != TarEntryType.RegularFile) continue;
                using var text = new StreamReader(entry.DataStream!);
                fromTar[entry.Name] = await text.ReadToEndAsync();
                Assert.Equal(DateTimeOffset.UnixEpoch, entry.ModificationTime);
            }
        }
        var fromDir = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in Directory.GetFiles(layoutDir, "*", SearchOption.AllDirectories))
            fromDir[Path.GetRelativePath(layoutDir, file)] = await File.ReadAllTextAsync(file);

        Assert.Equal(["blobs/sha256/" + blob.Digest.Hex, "index.json", "oci-layout"], fromTar.Keys);
        Assert.Equal(fromTar, fromDir);
        Assert.Equal("""{"imageLayoutVersion":"1.0.0"}""", fromDir["oci-layout"]);
        Assert.Contains("\"mediaType\":\"application/vnd.oci.image.index.v1+json\"", fromDir["index.json"]);
    }

    [Fact]
    public async Task ADirectoryKeepsABlobItHoldsAndReplacesTheIndexWhole()
    {
        using var dir = new TempDir();
        var store = new ContentStore(dir.Sub("store"));
        var blob = await store.WriteBytesAsync(Encoding.UTF8.GetBytes("config"), MediaTypes.OciConfig);
        var layoutDir = dir.Sub("layout");
        var writer = new OciLayoutWriter(new DirectoryLayoutTarget(layoutDir));
        await writer.WriteBlobsAsync(store, [blob], default);
        var blobPath = Path.Combine(layoutDir, OciLayoutWriter.BlobName(blob.Digest));
        var written = File.GetLastWriteTimeUtc(blobPath);
        File.SetLastWriteTimeUtc(blobPath, written.AddDays(-1));

        await writer.WriteBlobsAsync(store, [blob, blob], default);
        await writer.WriteIndexAsync(new ImageIndex { Manifests = [blob] }, default);
        await writer.WriteIndexAsync(new ImageIndex { Manifests = [] }, default);

        Assert.Equal(written.AddDays(-1), File.GetLastWriteTimeUtc(blobPath));
        Assert.Equal(["index.json"], Directory.GetFiles(layoutDir).Select(Path.GetFileName));
        Assert.Contains("\"manifests\":[]", await File.ReadAllTextAsync(Path.Combine(layoutDir, "index.json")));
    }

    private static async Task WriteAsync(OciLayoutWriter writer, ContentStore store, Descriptor blob, ImageIndex index)
    {
        await writer.WriteBlobsAsync(store, [blob], default);
        await writer.WriteIndexAsync(index, default);
        await writer.WriteMarkerAsync(default);
    }
}
