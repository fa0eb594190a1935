using System.Text.Json;
using System.Text.Json.Serialization;
using Img.Oci;

namespace Img.Build.CacheSharing;

/// <summary>
/// The cache map a shared cache carries: one entry per exported step, keyed by the step's backend-independent cache
/// key. It is the config blob of the cache manifest (registry, local layout) or, base64-encoded, a field of the
/// image config (inline).
/// </summary>
public sealed class CacheConfig
{
    /// <summary>Config blob media type of a cache manifest; registries store any config type for an OCI manifest.</summary>
    public const string MediaType = "application/vnd.img.cache.config.v1+json";

    /// <summary>The image config field holding an inline cache map (base64 of this JSON, as BuildKit's own field is).</summary>
    public const string InlineField = "img.cache.v1";

    [JsonPropertyName("schemaVersion")]
    public int SchemaVersion { get; set; } = 1;

    [JsonPropertyName("records")]
    public List<CacheEntry> Records { get; set; } = [];

    public byte[] ToBytes() => JsonSerializer.SerializeToUtf8Bytes(this, CacheJsonContext.Default.CacheConfig);

    /// <summary>Parses and checks a cache map.</summary>
    /// <exception cref="FormatException">Not JSON, another schema version, or an entry with a bad key or layer.</exception>
    public static CacheConfig Parse(ReadOnlySpan<byte> json)
    {
        CacheConfig? config;
        try { config = JsonSerializer.Deserialize(json, CacheJsonContext.Default.CacheConfig); }
        catch (JsonException e) { throw new FormatException($"invalid cache config: {e.Message}", e); }
        if (config is null) throw new FormatException("invalid cache config: null document");
        if (config.SchemaVersion != 1) throw new FormatException($"unsupported cache config schema version {config.SchemaVersion}");
        foreach (var r in config.Records ?? throw new FormatException("invalid cache config: no records"))
        {
            if (r is null || !IsKey(r.Key) || (r.Parent is not null && r.Parent.Length == 0))
                throw new FormatException("invalid cache config: a record without a valid key");
            if (r.Layer is { } l && (!Digest.TryParse(l.Digest, out _) || !Digest.TryParse(l.DiffId, out _) || l.Size < 0 || string.IsNullOrEmpty(l.MediaType)))
                throw new FormatException($"invalid cache config: record {r.Key} has an invalid layer");
        }
        return config;
    }

    private static bool IsKey(string? key) => key is { Length: 64 } && key.All(char.IsAsciiHexDigitLower);
}

/// <summary>One exported step.</summary>
public sealed class CacheEntry
{
    /// <summary>The step's cache key (sha256 hex).</summary>
    [JsonPropertyName("key")]
    public string Key { get; set; } = "";

    /// <summary>The key of the filesystem the step ran on (another step, a base image or scratch).</summary>
    [JsonPropertyName("parent")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Parent { get; set; }

    /// <summary>What the step did, for people reading the map.</summary>
    [JsonPropertyName("description")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Description { get; set; }

    /// <summary>The layer the step made; absent when it changed no file.</summary>
    [JsonPropertyName("layer")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public CacheLayer? Layer { get; set; }

    /// <summary>When the step ran (its history entry's <c>created</c>).</summary>
    [JsonPropertyName("created")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public DateTimeOffset? Created { get; set; }
}

/// <summary>A layer of a cache entry: the blob and its uncompressed digest.</summary>
public sealed class CacheLayer
{
    [JsonPropertyName("mediaType")]
    public string MediaType { get; set; } = "";

    [JsonPropertyName("digest")]
    public string Digest { get; set; } = "";

    [JsonPropertyName("size")]
    public long Size { get; set; }

    [JsonPropertyName("diffID")]
    public string DiffId { get; set; } = "";

    public Descriptor ToDescriptor() => new(MediaType, Oci.Digest.Parse(Digest), Size);
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(CacheConfig))]
[JsonSerializable(typeof(string))]
internal sealed partial class CacheJsonContext : JsonSerializerContext;
