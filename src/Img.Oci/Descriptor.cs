using System.Text.Json.Serialization;

namespace Img.Oci;

/// <summary>An OCI content descriptor: what a blob is, where to find it, how big it is.</summary>
public sealed record Descriptor : IJsonOnDeserialized
{
    [JsonPropertyName("mediaType")]
    public string MediaType { get; init => field = value ?? ""; } = "";

    [JsonPropertyName("digest")]
    public Digest Digest { get; init; }

    [JsonPropertyName("size")]
    public long Size { get; init; }

    [JsonPropertyName("urls")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<string>? Urls { get; init; }

    [JsonPropertyName("annotations")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyDictionary<string, string>? Annotations { get; init; }

    [JsonPropertyName("platform")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Platform? Platform { get; init; }

    [JsonPropertyName("artifactType")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ArtifactType { get; init; }

    /// <summary>
    /// 64 TiB: far past any blob a registry holds, and small enough that the sizes of every descriptor a manifest
    /// can list (4 MiB of JSON) add up without overflow (a fuzzed size of 2^63-1 broke the sums of pull and ls).
    /// </summary>
    public const long MaxSize = 1L << 46;

    public Descriptor() { }

    void IJsonOnDeserialized.OnDeserialized()
    {
        // A descriptor is nothing without its digest: every reader would fail later, less clearly.
        if (Digest.IsEmpty) throw new System.Text.Json.JsonException("descriptor without a digest");
        if (Size < 0) throw new System.Text.Json.JsonException($"descriptor {Digest} has a negative size {Size}");
        if (Size > MaxSize) throw new System.Text.Json.JsonException($"descriptor {Digest} declares {Size} bytes, more than any blob ({MaxSize})");
        OciSchema.NoNulls(Urls, "urls");
    }

    public Descriptor(string mediaType, Digest digest, long size)
    {
        MediaType = mediaType;
        Digest = digest;
        Size = size;
    }
}

/// <summary>Well-known annotation keys.</summary>
public static class Annotations
{
    public const string RefName = "org.opencontainers.image.ref.name";
    public const string Created = "org.opencontainers.image.created";
    public const string ContainerdImageName = "io.containerd.image.name";
}
