namespace Img.Dockerfile.Checks;

/// <summary>
/// The <c># check=skip=RULE[,RULE…]|all;error=true|false</c> parser directive (or the <c>BUILDKIT_DOCKERFILE_CHECK</c>
/// build-arg, which wins): which rules are skipped and whether a violation fails the build.
/// </summary>
public sealed record CheckSettings(IReadOnlySet<string> Skip, bool SkipAll, bool Error)
{
    /// <summary>Every rule on, violations are warnings.</summary>
    public static CheckSettings Default { get; } = new(new HashSet<string>(), false, false);

    /// <summary>Whether <paramref name="rule"/> runs.</summary>
    public bool Runs(CheckRule rule) => !SkipAll && !Skip.Contains(rule.Name);

    /// <summary>Parses a directive value.</summary>
    /// <exception cref="DockerfileException">An unknown key or a value that is not true/false.</exception>
    public static CheckSettings Parse(string value)
    {
        var skip = new HashSet<string>(StringComparer.Ordinal);
        var all = false;
        var error = false;
        foreach (var part in value.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            var key = (eq < 0 ? part : part[..eq]).Trim().ToLowerInvariant();
            var v = eq < 0 ? "" : part[(eq + 1)..].Trim();
            switch (key)
            {
                case "skip":
                    foreach (var rule in v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        if (rule == "all") all = true;
                        else skip.Add(rule);
                    }
                    break;
                case "error":
                    if (!bool.TryParse(v, out error)) throw new DockerfileException($"failed to parse check options: invalid error value \"{v}\"");
                    break;
                default:
                    throw new DockerfileException($"failed to parse check options: unknown key \"{key}\"");
            }
        }
        return new CheckSettings(skip, all, error);
    }
}
