namespace Img.Dockerfile.Checks;

/// <summary>What every check reads: the parsed Dockerfile and what is known about base images.</summary>
/// <param name="Document">The typed stages (words unexpanded).</param>
/// <param name="BuildArgs"><c>--build-arg</c> values.</param>
/// <param name="BaseImageEnv">A base image's config environment by name, or null when it is not known (its stage is then not checked for undefined variables).</param>
public sealed record CheckInput(DockerfileDocument Document, IReadOnlyDictionary<string, string> BuildArgs, Func<string, IReadOnlyList<string>?> BaseImageEnv)
{
    /// <summary>The parse tree's instructions in order (meta ARGs, FROMs and stage commands).</summary>
    public IReadOnlyList<Node> Nodes => Document.Syntax.Ast.Children;

    /// <summary>Platform args every FROM may use without declaring them.</summary>
    public static IReadOnlySet<string> BuiltinArgs { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT", "BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT",
    };
}

/// <summary>One build check: looks at the Dockerfile and yields its violations.</summary>
public interface IDockerfileCheck
{
    /// <summary>The rule it enforces.</summary>
    CheckRule Rule { get; }

    /// <summary>The violations in <paramref name="input"/>.</summary>
    IEnumerable<CheckWarning> Check(CheckInput input);
}

/// <summary>The words of a FROM line as written (keyword and stage name keep their case).</summary>
internal sealed record FromWords(string Keyword, string? AsKeyword, string? StageName)
{
    public static FromWords Of(Instruction from)
    {
        var words = from.Location.Original.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var rest = words.Skip(1).Where(w => !w.StartsWith("--", StringComparison.Ordinal)).ToList();
        return rest.Count >= 3 && rest[1].Equals("as", StringComparison.OrdinalIgnoreCase)
            ? new FromWords(words[0], rest[1], rest[2])
            : new FromWords(words.Length > 0 ? words[0] : "FROM", null, null);
    }
}
