using System.Text.Json.Serialization;

namespace Img.Oci;

/// <summary>An image manifest (OCI or Docker schema2: the same shape).</summary>
public sealed record Manifest : IJsonOnDeserialized
{
    [JsonPropertyName("schemaVersion")]
    public int SchemaVersion { get; init; } = 2;

    [JsonPropertyName("mediaType")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? MediaType { get; init; }

    [JsonPropertyName("artifactType")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ArtifactType { get; init; }

    [JsonPropertyName("config")]
    public Descriptor Config { get; init; } = new();

    /// <summary>The layers, base first; <c>null</c> in the document reads as none (as Go decodes it).</summary>
    [JsonPropertyName("layers")]
    public IReadOnlyList<Descriptor> Layers { get; init => field = value ?? []; } = [];

    [JsonPropertyName("subject")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Descriptor? Subject { get; init; }

    [JsonPropertyName("annotations")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyDictionary<string, string>? Annotations { get; init; }

    void IJsonOnDeserialized.OnDeserialized()
    {
        OciSchema.Require(Config, "config");
        OciSchema.NoNulls(Layers, "layers");
    }
}

/// <summary>An image index (OCI) or manifest list (Docker): one manifest per platform.</summary>
public sealed record ImageIndex : IJsonOnDeserialized
{
    [JsonPropertyName("schemaVersion")]
    public int SchemaVersion { get; init; } = 2;

    [JsonPropertyName("mediaType")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? MediaType { get; init; }

    /// <summary>The manifests; <c>null</c> in the document reads as none (as Go decodes it).</summary>
    [JsonPropertyName("manifests")]
    public IReadOnlyList<Descriptor> Manifests { get; init => field = value ?? []; } = [];

    [JsonPropertyName("annotations")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyDictionary<string, string>? Annotations { get; init; }

    void IJsonOnDeserialized.OnDeserialized() => OciSchema.NoNulls(Manifests, "manifests");
}

/// <summary>Just enough of any manifest-like document to learn what it is.</summary>
public sealed record MediaTypeProbe
{
    [JsonPropertyName("schemaVersion")]
    public int SchemaVersion { get; init; }

    [JsonPropertyName("mediaType")]
    public string? MediaType { get; init; }

    [JsonPropertyName("manifests")]
    public IReadOnlyList<Descriptor>? Manifests { get; init; }

    [JsonPropertyName("config")]
    public Descriptor? Config { get; init; }

    [JsonPropertyName("fsLayers")]
    public IReadOnlyList<System.Text.Json.JsonElement>? FsLayers { get; init; }

    /// <summary>The media type, inferred from the shape when the document omits it (OCI allows that).</summary>
    public string EffectiveMediaType =>
        MediaType ?? (Manifests is not null ? MediaTypes.OciIndex
            : Config is not null ? MediaTypes.OciManifest
            : SchemaVersion == 1 || FsLayers is not null ? MediaTypes.DockerSchema1Manifest
            : "");
}
