using System.Runtime.InteropServices;
using System.Text.Json.Serialization;

namespace Img.Oci;

/// <summary>An OS/architecture/variant triple, normalised as containerd does (aarch64 → arm64, armhf → arm/v7 …).</summary>
public sealed record Platform
{
    [JsonPropertyName("architecture")]
    public string Architecture { get; init => field = value ?? ""; } = "";

    [JsonPropertyName("os")]
    public string OS { get; init => field = value ?? ""; } = "";

    [JsonPropertyName("os.version")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? OSVersion { get; init; }

    [JsonPropertyName("os.features")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<string>? OSFeatures { get; init; }

    [JsonPropertyName("variant")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Variant { get; init; }

    /// <summary>The platform this process runs on.</summary>
    public static Platform Host { get; } = Normalize(new Platform
    {
        OS = "linux",
        Architecture = RuntimeInformation.OSArchitecture switch
        {
            System.Runtime.InteropServices.Architecture.X64 => "amd64",
            System.Runtime.InteropServices.Architecture.Arm64 => "arm64",
            System.Runtime.InteropServices.Architecture.Arm => "arm",
            System.Runtime.InteropServices.Architecture.X86 => "386",
            System.Runtime.InteropServices.Architecture.S390x => "s390x",
            System.Runtime.InteropServices.Architecture.Ppc64le => "ppc64le",
            System.Runtime.InteropServices.Architecture.RiscV64 => "riscv64",
            System.Runtime.InteropServices.Architecture.LoongArch64 => "loong64",
            var a => a.ToString().ToLowerInvariant(),
        },
        Variant = RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm ? "v7" : null,
    });

    /// <summary>Parses <c>os[/arch[/variant]]</c> or a bare architecture (<c>amd64</c> means linux/amd64).</summary>
    public static Platform Parse(string specifier)
    {
        if (string.IsNullOrWhiteSpace(specifier))
            throw new FormatException("invalid platform: empty specifier");
        var parts = specifier.Trim().ToLowerInvariant().Split('/');
        foreach (var p in parts)
            if (p.Length == 0 || !p.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.'))
                throw new FormatException($"invalid platform \"{specifier}\": unknown operating system or architecture");
        Platform p1 = parts.Length switch
        {
            1 when IsKnownOS(parts[0]) => new Platform { OS = parts[0], Architecture = Host.Architecture, Variant = Host.Variant },
            1 => new Platform { OS = "linux", Architecture = parts[0] },
            2 => new Platform { OS = parts[0], Architecture = parts[1] },
            3 => new Platform { OS = parts[0], Architecture = parts[1], Variant = parts[2] },
            _ => throw new FormatException($"invalid platform \"{specifier}\": too many parts"),
        };
        return Normalize(p1);
    }

    private static bool IsKnownOS(string os) => os is "linux" or "windows" or "darwin" or "freebsd" or "netbsd" or "openbsd" or "solaris" or "illumos" or "aix" or "android" or "ios" or "plan9" or "js" or "wasip1";

    /// <summary>Canonical names, so that equal platforms compare equal.</summary>
    public static Platform Normalize(Platform p)
    {
        string os = p.OS.ToLowerInvariant() switch { "macos" => "darwin", var o => o };
        string arch = p.Architecture.ToLowerInvariant();
        string? variant = string.IsNullOrEmpty(p.Variant) ? null : p.Variant.ToLowerInvariant();
        switch (arch)
        {
            case "i386": arch = "386"; variant = null; break;
            case "x86_64" or "x86-64" or "amd64":
                arch = "amd64";
                if (variant == "v1") variant = null;
                break;
            case "aarch64" or "arm64":
                arch = "arm64";
                if (variant is "8" or "v8") variant = null;
                break;
            case "armhf": arch = "arm"; variant = "v7"; break;
            case "armel": arch = "arm"; variant = "v6"; break;
            case "arm":
                variant = variant switch { null or "7" => "v7", "5" or "6" or "8" => "v" + variant, _ => variant };
                break;
        }
        return p with { OS = os, Architecture = arch, Variant = variant };
    }

    /// <summary>Whether an image built for <paramref name="candidate"/> runs on this platform.</summary>
    public bool Matches(Platform? candidate)
    {
        if (candidate is null) return false;
        var a = Normalize(this);
        var b = Normalize(candidate);
        if (a.OS != b.OS || a.Architecture != b.Architecture) return false;
        if (a.Variant == b.Variant || b.Variant is null) return true;
        // An arm/v7 host runs v6 and v5 images too; prefer exact matches via Rank.
        if (a.Architecture == "arm" && a.Variant is not null)
            return string.CompareOrdinal(b.Variant, a.Variant) <= 0;
        return false;
    }

    /// <summary>Lower is better among matching candidates: exact variant first.</summary>
    public int Rank(Platform candidate)
    {
        var b = Normalize(candidate);
        var a = Normalize(this);
        return a.Variant == b.Variant ? 0 : b.Variant is null ? 1 : 2;
    }

    public override string ToString() =>
        Variant is null ? $"{OS}/{Architecture}" : $"{OS}/{Architecture}/{Variant}";

    public bool Equals(Platform? other) => other is not null && ToString() == other.ToString() && OSVersion == other.OSVersion;

    public override int GetHashCode() => ToString().GetHashCode(StringComparison.Ordinal);
}
