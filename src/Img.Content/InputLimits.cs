using System.Globalization;

namespace Img.Content;

/// <summary>
/// Ceilings on what img takes from outside whose size the sender declares: a registry's blobs and the
/// bodies of <c>ADD http(s)://…</c>. Each can be set in the environment (bytes, or with a K/M/G/T suffix,
/// powers of 1024); a value past its ceiling fails naming the limit and its variable.
/// </summary>
public sealed record InputLimits
{
    /// <summary>The largest layer Amazon ECR accepts (52,000 MiB): no registry serves a real image layer past it.</summary>
    public const long DefaultMaxBlobSize = 52_000L << 20;

    public const string MaxBlobSizeVariable = "IMG_MAX_BLOB_SIZE";
    public const string MaxUnpackSizeVariable = "IMG_MAX_UNPACK_SIZE";

    /// <summary>The largest blob a pull fetches and the largest body an ADD downloads.</summary>
    public long MaxBlobSize { get; init; } = DefaultMaxBlobSize;

    /// <summary>
    /// The most an ADDed archive may unpack to (the sum of its files' sizes). None by default: docker and BuildKit
    /// unpack any size, so a 46 MB gzip bomb becomes 10 GB; set it to refuse such archives.
    /// </summary>
    public long? MaxUnpackSize { get; init; }

    public static InputLimits Default { get; } = new();

    /// <summary>The limits with the environment's overrides.</summary>
    /// <exception cref="FormatException">A variable that is not a size.</exception>
    public static InputLimits FromEnvironment() => new()
    {
        MaxBlobSize = Read(MaxBlobSizeVariable) ?? DefaultMaxBlobSize,
        MaxUnpackSize = Read(MaxUnpackSizeVariable),
    };

    private static long? Read(string variable)
    {
        var text = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrWhiteSpace(text)) return null;
        return ParseSize(text.Trim()) ?? throw new FormatException($"{variable}: invalid size \"{text}\" (bytes, or a number with K, M, G or T)");
    }

    /// <summary>Bytes, or a whole number with a binary suffix (<c>512M</c>, <c>10G</c>, <c>1TiB</c>); null if it is neither.</summary>
    public static long? ParseSize(string text)
    {
        int end = 0;
        while (end < text.Length && char.IsAsciiDigit(text[end])) end++;
        if (end == 0 || !long.TryParse(text.AsSpan(0, end), NumberStyles.None, CultureInfo.InvariantCulture, out long n)) return null;
        int shift = text[end..].ToUpperInvariant() switch
        {
            "" or "B" => 0,
            "K" or "KB" or "KIB" => 10,
            "M" or "MB" or "MIB" => 20,
            "G" or "GB" or "GIB" => 30,
            "T" or "TB" or "TIB" => 40,
            _ => -1,
        };
        if (shift < 0 || n > long.MaxValue >> shift) return null;
        return n << shift;
    }
}
