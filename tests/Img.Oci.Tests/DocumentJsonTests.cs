using System.Text;
using System.Text.Json;
using Img.Oci;

namespace Img.Oci.Tests;

public sealed class DocumentJsonTests
{
    [Fact]
    public void ConfigKeepsUnknownFieldsAndOrdersLikeTheSpec()
    {
        const string json = """{"architecture":"amd64","os":"linux","created":"2024-05-01T10:20:30.123456789Z","docker_version":"24.0","config":{"Env":["A=1"],"Cmd":["sh"],"Weird":1},"rootfs":{"type":"layers","diff_ids":["sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"]}}""";
        var config = OciJson.Deserialize<ImageConfig>(Encoding.UTF8.GetBytes(json));
        Assert.Equal(new DateTimeOffset(2024, 5, 1, 10, 20, 30, TimeSpan.Zero).AddTicks(1234567), config.Created);
        var text = Encoding.UTF8.GetString(OciJson.Serialize(config));
        Assert.StartsWith("""{"created":"2024-05-01T10:20:30.1234567Z","architecture":"amd64","os":"linux","config":{"Env":["A=1"],"Cmd":["sh"],"Weird":1},"rootfs":""", text);
        Assert.Contains("\"docker_version\":\"24.0\"", text);
    }

    [Fact]
    public void IndentedOutputUsesTabsLikeGo()
    {
        var config = new ImageConfig { Architecture = "amd64", OS = "linux" };
        var text = JsonSerializer.Serialize(config, OciJsonContext.Indented.ImageConfig);
        Assert.StartsWith("{\n\t\"architecture\": \"amd64\",\n\t\"os\": \"linux\",\n\t\"config\": {},", text);
    }

    [Fact]
    public void ProbeInfersMediaTypeFromShape()
    {
        Assert.Equal(MediaTypes.OciIndex, OciJson.Deserialize<MediaTypeProbe>("""{"schemaVersion":2,"manifests":[]}"""u8).EffectiveMediaType);
        Assert.Equal(MediaTypes.OciManifest, OciJson.Deserialize<MediaTypeProbe>("""{"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824","size":1},"layers":[]}"""u8).EffectiveMediaType);
        Assert.Equal(MediaTypes.DockerSchema1Manifest, OciJson.Deserialize<MediaTypeProbe>("""{"schemaVersion":1,"fsLayers":[]}"""u8).EffectiveMediaType);
    }

    [Fact]
    public void BadDocumentsAreFormatErrors()
    {
        Assert.Throws<FormatException>(() => OciJson.Deserialize<Manifest>("{not json"u8));
        Assert.Throws<FormatException>(() => OciJson.Deserialize<Manifest>("""{"config":{"digest":"sha256:short"}}"""u8));
    }

    [Fact]
    public void LayerMediaTypesMapToCompression()
    {
        Assert.Equal(Compression.Gzip, MediaTypes.LayerCompression(MediaTypes.DockerLayerGzip));
        Assert.Equal(Compression.Gzip, MediaTypes.LayerCompression(MediaTypes.OciLayerGzip));
        Assert.Equal(Compression.Zstd, MediaTypes.LayerCompression(MediaTypes.OciLayerZstd));
        Assert.Equal(Compression.None, MediaTypes.LayerCompression(MediaTypes.OciLayer));
        Assert.Equal(MediaTypes.DockerLayerGzip, MediaTypes.Layer(Compression.Gzip, oci: false));
    }
}
