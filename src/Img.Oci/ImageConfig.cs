using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Img.Oci;

/// <summary>
/// The image configuration blob (OCI image-spec config, with Docker's extensions).
/// Property order follows the OCI spec, which is the order <c>img inspect</c> prints.
/// Unknown fields survive a round trip through <see cref="Extra"/>.
/// </summary>
public sealed class ImageConfig : IJsonOnDeserialized
{
    [JsonPropertyName("created")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    [JsonConverter(typeof(Rfc3339JsonConverter))]
    public DateTimeOffset? Created { get; set; }

    [JsonPropertyName("author")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Author { get; set; }

    [JsonPropertyName("architecture")]
    public string Architecture { get; set => field = value ?? ""; } = "";

    [JsonPropertyName("variant")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Variant { get; set; }

    [JsonPropertyName("os")]
    public string OS { get; set => field = value ?? ""; } = "";

    [JsonPropertyName("os.version")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? OSVersion { get; set; }

    // null reads as empty, as Go decodes it.
    [JsonPropertyName("config")]
    public ContainerConfig Config { get; set => field = value ?? new(); } = new();

    [JsonPropertyName("rootfs")]
    public RootFs RootFs { get; set => field = value ?? new(); } = new();

    [JsonPropertyName("history")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<History>? History { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Extra { get; set; }

    public Platform Platform => new() { OS = OS, Architecture = Architecture, Variant = Variant, OSVersion = OSVersion };

    void IJsonOnDeserialized.OnDeserialized() => OciSchema.NoNulls(History, "history");
}

/// <summary>The runtime defaults of a container: the "config" object of an image config.</summary>
public sealed class ContainerConfig : IJsonOnDeserialized
{
    [JsonPropertyName("User")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? User { get; set; }

    [JsonPropertyName("ExposedPorts")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public SortedDictionary<string, EmptyObject>? ExposedPorts { get; set; }

    [JsonPropertyName("Env")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<string>? Env { get; set; }

    [JsonPropertyName("Entrypoint")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<string>? Entrypoint { get; set; }

    [JsonPropertyName("Cmd")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<string>? Cmd { get; set; }

    [JsonPropertyName("Volumes")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public SortedDictionary<string, EmptyObject>? Volumes { get; set; }

    [JsonPropertyName("WorkingDir")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? WorkingDir { get; set; }

    [JsonPropertyName("Labels")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public SortedDictionary<string, string>? Labels { get; set; }

    [JsonPropertyName("StopSignal")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? StopSignal { get; set; }

    [JsonPropertyName("ArgsEscaped")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool ArgsEscaped { get; set; }

    [JsonPropertyName("Healthcheck")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public HealthConfig? Healthcheck { get; set; }

    [JsonPropertyName("OnBuild")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<string>? OnBuild { get; set; }

    [JsonPropertyName("Shell")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<string>? Shell { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Extra { get; set; }

    void IJsonOnDeserialized.OnDeserialized()
    {
        OciSchema.NoNulls(Env, "Env");
        OciSchema.NoNulls(Entrypoint, "Entrypoint");
        OciSchema.NoNulls(Cmd, "Cmd");
        OciSchema.NoNulls(OnBuild, "OnBuild");
        OciSchema.NoNulls(Shell, "Shell");
        OciSchema.NoNulls(Healthcheck?.Test, "Healthcheck.Test");
        OciSchema.NoNullValues(Labels, "Labels");
        OciSchema.NoNullValues(ExposedPorts, "ExposedPorts");
        OciSchema.NoNullValues(Volumes, "Volumes");
    }
}

/// <summary>Docker's HEALTHCHECK settings; durations are nanoseconds as in Go.</summary>
public sealed class HealthConfig
{
    [JsonPropertyName("Test")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<string>? Test { get; set; }

    [JsonPropertyName("Interval")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long Interval { get; set; }

    [JsonPropertyName("Timeout")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long Timeout { get; set; }

    [JsonPropertyName("StartPeriod")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long StartPeriod { get; set; }

    [JsonPropertyName("StartInterval")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long StartInterval { get; set; }

    [JsonPropertyName("Retries")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int Retries { get; set; }
}

public sealed class RootFs
{
    [JsonPropertyName("type")]
    public string Type { get; set => field = value ?? ""; } = "layers";

    [JsonPropertyName("diff_ids")]
    public List<Digest> DiffIds { get; set => field = value ?? []; } = [];
}

public sealed class History
{
    [JsonPropertyName("created")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    [JsonConverter(typeof(Rfc3339JsonConverter))]
    public DateTimeOffset? Created { get; set; }

    [JsonPropertyName("created_by")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? CreatedBy { get; set; }

    [JsonPropertyName("author")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Author { get; set; }

    [JsonPropertyName("comment")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Comment { get; set; }

    [JsonPropertyName("empty_layer")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool EmptyLayer { get; set; }
}

/// <summary>Serialises as <c>{}</c>: the value type of Go's <c>map[string]struct{}</c>.</summary>
public sealed class EmptyObject
{
    public static readonly EmptyObject Instance = new();
}

/// <summary>Times as Go writes them (RFC 3339 with nanoseconds trimmed), always in UTC.</summary>
public sealed class Rfc3339JsonConverter : JsonConverter<DateTimeOffset?>
{
    public override DateTimeOffset? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Null) return null;
        if (reader.TokenType != JsonTokenType.String) throw new JsonException($"a time must be a string, not {reader.TokenType}");
        var s = reader.GetString();
        if (string.IsNullOrEmpty(s)) return null;
        try { return Rfc3339.Parse(s); }
        catch (FormatException e) { throw new JsonException($"invalid time \"{s}\": {e.Message}", e); }
    }

    public override void Write(Utf8JsonWriter writer, DateTimeOffset? value, JsonSerializerOptions options)
    {
        if (value is null) writer.WriteNullValue();
        else writer.WriteStringValue(Rfc3339.Format(value.Value));
    }
}

public static class Rfc3339
{
    public static string Format(DateTimeOffset t)
    {
        var u = t.ToUniversalTime();
        string s = u.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff", CultureInfo.InvariantCulture).TrimEnd('0').TrimEnd('.');
        return s + "Z";
    }

    public static DateTimeOffset Parse(string s)
    {
        // Go writes up to nine fractional digits; .NET parses at most seven.
        int dot = s.IndexOf('.');
        if (dot > 0)
        {
            int end = dot + 1;
            while (end < s.Length && char.IsAsciiDigit(s[end])) end++;
            if (end - dot - 1 > 7) s = s[..(dot + 8)] + s[end..];
        }
        return DateTimeOffset.Parse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
    }
}
