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

    private const string D = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    /// <summary>Documents that do not match the schema: one FormatException each, never a null reference later.</summary>
    [Theory]
    [InlineData("manifest", """{"config":null,"layers":[]}""")]
    [InlineData("manifest", """{"config":{"mediaType":"x","digest":"D","size":1},"layers":[null]}""")]
    [InlineData("manifest", """{"config":{"mediaType":"x","size":1},"layers":[]}""")]
    [InlineData("manifest", """{"config":{"mediaType":"x","digest":5,"size":1}}""")]
    [InlineData("manifest", """{"config":{"mediaType":"x","digest":"D","size":-1}}""")]
    [InlineData("manifest", """{"config":{"mediaType":"x","digest":"D","size":"1"}}""")]
    [InlineData("manifest", """{"config":{"mediaType":"x","digest":"D","size":9223372036854775807}}""")]
    [InlineData("manifest", """{"config":{"mediaType":"x","digest":"D","size":1},"layers":{}}""")]
    [InlineData("manifest", """null""")]
    [InlineData("index", """{"manifests":[null]}""")]
    [InlineData("index", """{"manifests":[{"digest":"D","size":1,"platform":{"os":"linux"},"urls":[null]}]}""")]
    [InlineData("config", """{"created":5}""")]
    [InlineData("config", """{"created":"yesterday"}""")]
    [InlineData("config", """{"config":{"Env":[null]}}""")]
    [InlineData("config", """{"config":{"Labels":{"a":null}}}""")]
    [InlineData("config", """{"rootfs":{"diff_ids":[null]}}""")]
    [InlineData("config", """{"history":[null]}""")]
    [InlineData("config", """[]""")]
    public void DocumentsAgainstTheSchemaAreFormatErrors(string kind, string json)
    {
        var bytes = Encoding.UTF8.GetBytes(json.Replace("\"D\"", $"\"{D}\"", StringComparison.Ordinal));
        var e = Assert.Throws<FormatException>(() => kind switch
        {
            "manifest" => (object)OciJson.Deserialize<Manifest>(bytes),
            "index" => OciJson.Deserialize<ImageIndex>(bytes),
            _ => OciJson.Deserialize<ImageConfig>(bytes),
        });
        Assert.StartsWith("invalid ", e.Message, StringComparison.Ordinal);
    }

    /// <summary>Go decodes a null list or object as its zero value; so does img (a manifest without layers is valid).</summary>
    [Fact]
    public void NullListsAndObjectsReadAsEmpty()
    {
        var manifest = OciJson.Deserialize<Manifest>(Encoding.UTF8.GetBytes($$"""{"config":{"mediaType":null,"digest":"{{D}}","size":1},"layers":null}"""));
        Assert.Empty(manifest.Layers);
        Assert.Equal("", manifest.Config.MediaType);
        Assert.Empty(OciJson.Deserialize<ImageIndex>("""{"manifests":null}"""u8).Manifests);
        var config = OciJson.Deserialize<ImageConfig>("""{"architecture":null,"os":null,"config":null,"rootfs":{"type":null,"diff_ids":null}}"""u8);
        Assert.Equal("", config.Architecture);
        Assert.NotNull(config.Config);
        Assert.Empty(config.RootFs.DiffIds);
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
