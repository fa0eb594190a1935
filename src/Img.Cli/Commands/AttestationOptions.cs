using Img.Build;
using Img.Cli.Framework;

namespace Img.Cli.Commands;

/// <summary>
/// <c>--provenance</c> (<c>true</c>, <c>false</c>, <c>mode=min|max</c>) and <c>--attest type=provenance[,mode=…]</c>,
/// buildx's spellings. Unlike buildx, nothing is attached unless asked: an attestation turns the image into an index.
/// </summary>
public static class AttestationOptions
{
    /// <summary>The provenance asked for, or null. <paramref name="sbom"/> (<c>--sbom</c>) may only say false.</summary>
    public static ProvenanceMode? Provenance(string provenance, IReadOnlyList<string> attest, string sbom = "")
    {
        if (sbom.Length > 0 && !(bool.TryParse(sbom, out var wanted) && !wanted))
            throw new CommandException($"invalid --sbom value {sbom}: img has no SBOM scanner; only --sbom=false is accepted");
        ProvenanceMode? mode = provenance.Length == 0 ? null : Parse(provenance, "--provenance", typeRequired: false);
        foreach (var a in attest)
            mode = Parse(a, "--attest", typeRequired: true);
        return mode;
    }

    private static ProvenanceMode? Parse(string value, string flag, bool typeRequired)
    {
        if (!typeRequired && bool.TryParse(value, out var on)) return on ? ProvenanceMode.Min : null;
        if (!typeRequired && value is "min" or "max") return value == "max" ? ProvenanceMode.Max : ProvenanceMode.Min;
        var mode = ProvenanceMode.Min;
        string? type = null;
        foreach (var field in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = field.IndexOf('=', StringComparison.Ordinal);
            if (eq < 0) throw new CommandException($"invalid {flag} value {value}: want key=value fields");
            var (key, v) = (field[..eq].ToLowerInvariant(), field[(eq + 1)..]);
            switch (key)
            {
                case "type": type = v; break;
                case "mode":
                    mode = v switch
                    {
                        "min" => ProvenanceMode.Min,
                        "max" => ProvenanceMode.Max,
                        _ => throw new CommandException($"invalid {flag} value {value}: mode must be min or max"),
                    };
                    break;
                case "disabled":
                    if (bool.TryParse(v, out var disabled) && disabled) return null;
                    break;
                case "builder-id" or "reproducible" or "version" or "inline-only":
                    break; // accepted as buildx does (build-push-action passes them); img's statement keeps BuildKit's defaults
                default: throw new CommandException($"invalid {flag} value {value}: unknown key {key}");
            }
        }
        if (typeRequired && type is null) throw new CommandException($"invalid {flag} value {value}: type is required (type=provenance)");
        if (type is not null and not "provenance")
            throw new CommandException($"invalid {flag} value {value}: only type=provenance is supported (img has no SBOM scanner)");
        return mode;
    }
}
