using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Img.Oci;

/// <summary>A content digest such as <c>sha256:abc…</c>. Only sha256 and sha512 are accepted.</summary>
[JsonConverter(typeof(DigestJsonConverter))]
public readonly record struct Digest
{
    public string Algorithm { get; }
    public string Hex { get; }

    private Digest(string algorithm, string hex)
    {
        Algorithm = algorithm;
        Hex = hex;
    }

    public static Digest Parse(string value)
    {
        if (!TryParse(value, out var digest))
            throw new FormatException($"invalid digest \"{value}\"");
        return digest;
    }

    public static bool TryParse(string? value, out Digest digest)
    {
        digest = default;
        if (string.IsNullOrEmpty(value)) return false;
        int colon = value.IndexOf(':');
        if (colon <= 0) return false;
        string alg = value[..colon];
        string hex = value[(colon + 1)..];
        int expected = alg switch { "sha256" => 64, "sha512" => 128, _ => -1 };
        if (expected < 0 || hex.Length != expected) return false;
        foreach (char c in hex)
            if (!char.IsAsciiHexDigitLower(c) && !char.IsAsciiDigit(c)) return false;
        digest = new Digest(alg, hex);
        return true;
    }

    public static Digest FromSha256(ReadOnlySpan<byte> hash) =>
        new("sha256", Convert.ToHexStringLower(hash));

    public static Digest Compute(ReadOnlySpan<byte> data) => FromSha256(SHA256.HashData(data));

    public static async Task<Digest> ComputeAsync(Stream stream, CancellationToken ct = default) =>
        FromSha256(await SHA256.HashDataAsync(stream, ct).ConfigureAwait(false));

    public bool IsEmpty => Hex is null;

    /// <summary>A short form for tables: the first 12 hex characters.</summary>
    public string Short => Hex.Length > 12 ? Hex[..12] : Hex;

    public override string ToString() => Hex is null ? "" : $"{Algorithm}:{Hex}";

    /// <summary>A hash of the right algorithm, for verifying a stream against this digest.</summary>
    public IncrementalHash CreateHash() => Algorithm switch
    {
        "sha256" => IncrementalHash.CreateHash(HashAlgorithmName.SHA256),
        "sha512" => IncrementalHash.CreateHash(HashAlgorithmName.SHA512),
        _ => throw new InvalidOperationException($"unsupported digest algorithm {Algorithm}"),
    };
}

internal sealed class DigestJsonConverter : JsonConverter<Digest>
{
    public override Digest Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.String) throw new JsonException($"a digest must be a string, not {reader.TokenType}");
        var s = reader.GetString();
        if (!Digest.TryParse(s, out var d)) throw new JsonException($"invalid digest \"{s}\"");
        return d;
    }

    public override void Write(Utf8JsonWriter writer, Digest value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.ToString());
}
