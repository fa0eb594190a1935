using System.Text.Json.Serialization;

namespace Img.Archive.ImageArchive;

/// <summary>One entry of docker's <c>manifest.json</c> in an image archive.</summary>
public sealed class DockerArchiveManifest
{
    [JsonPropertyName("Config")]
    public string Config { get; set; } = "";

    [JsonPropertyName("RepoTags")]
    public List<string>? RepoTags { get; set; }

    [JsonPropertyName("Layers")]
    public List<string> Layers { get; set; } = [];
}

/// <summary>The <c>oci-layout</c> marker file.</summary>
public sealed class OciLayoutFile
{
    [JsonPropertyName("imageLayoutVersion")]
    public string ImageLayoutVersion { get; set; } = "1.0.0";
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(List<DockerArchiveManifest>))]
[JsonSerializable(typeof(OciLayoutFile))]
internal sealed partial class ArchiveJsonContext : JsonSerializerContext;
