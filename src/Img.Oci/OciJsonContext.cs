using System.Text.Json;
using System.Text.Json.Serialization;

namespace Img.Oci;

/// <summary>Source-generated JSON for every OCI document (NativeAOT-safe).</summary>
[JsonSourceGenerationOptions(
    DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    PropertyNamingPolicy = JsonKnownNamingPolicy.Unspecified,
    UseStringEnumConverter = true)]
[JsonSerializable(typeof(Descriptor))]
[JsonSerializable(typeof(Manifest))]
[JsonSerializable(typeof(ImageIndex))]
[JsonSerializable(typeof(MediaTypeProbe))]
[JsonSerializable(typeof(ImageConfig))]
[JsonSerializable(typeof(Platform))]
[JsonSerializable(typeof(List<Descriptor>))]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(List<string>))]
public sealed partial class OciJsonContext : JsonSerializerContext
{
    /// <summary>Indented with tabs, as Go's json.MarshalIndent(v, "", "\t") prints.</summary>
    public static OciJsonContext Indented { get; } = new(new JsonSerializerOptions
    {
        WriteIndented = true,
        IndentCharacter = '\t',
        IndentSize = 1,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });

    /// <summary>Compact, for blobs whose digest we compute.</summary>
    public static OciJsonContext Compact { get; } = new(new JsonSerializerOptions
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}

/// <summary>Serialise and parse OCI documents to and from bytes.</summary>
public static class OciJson
{
    public static byte[] Serialize<T>(T value) =>
        JsonSerializer.SerializeToUtf8Bytes(value, (System.Text.Json.Serialization.Metadata.JsonTypeInfo<T>)OciJsonContext.Compact.GetTypeInfo(typeof(T))!);

    public static T Deserialize<T>(ReadOnlySpan<byte> json)
    {
        try
        {
            return JsonSerializer.Deserialize(json, (System.Text.Json.Serialization.Metadata.JsonTypeInfo<T>)OciJsonContext.Compact.GetTypeInfo(typeof(T))!)
                ?? throw new FormatException($"invalid {typeof(T).Name}: null document");
        }
        catch (JsonException e)
        {
            throw new FormatException($"invalid {typeof(T).Name}: {e.Message}", e);
        }
    }
}
