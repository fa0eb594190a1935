namespace Img.Cli.Framework;

public enum FlagKind
{
    Bool,
    String,
    List,
}

/// <summary>One command-line flag, described as cobra/pflag would print it.</summary>
public sealed record Flag(string Name, char? Short, FlagKind Kind, string Usage, string Default = "")
{
    /// <summary>Other long names accepted for this flag (not shown in help).</summary>
    public IReadOnlyList<string> Aliases { get; init; } = [];

    public string TypeName => Kind switch { FlagKind.String => "string", FlagKind.List => "list", _ => "" };
}
