using System.Text.Json.Serialization;

namespace Img.Archive.ImageArchive;

/// <summary>One entry of docker's <c>manifest.json</c> in an image archive.</summary>
public sealed class DockerArchiveManifest : IJsonOnDeserialized
{
    [JsonPropertyName("Config")]
    public string Config { get; set => field = value ?? ""; } = "";

    [JsonPropertyName("RepoTags")]
    public List<string>? RepoTags { get; set; }

    /// <summary>Layer paths, base first; docker writes <c>null</c> for an image without layers.</summary>
    [JsonPropertyName("Layers")]
    public List<string> Layers { get; set => field = value ?? []; } = [];

    void IJsonOnDeserialized.OnDeserialized()
    {
        if (Layers.Contains(null!)) throw new System.Text.Json.JsonException("\"Layers\" holds a null entry");
        if (RepoTags?.Contains(null!) == true) throw new System.Text.Json.JsonException("\"RepoTags\" holds a null entry");
    }
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
