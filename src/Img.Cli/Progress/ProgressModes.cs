using Img.Cli.Framework;

namespace Img.Cli.Progress;

/// <summary>The build display buildx offers (<c>--progress</c>).</summary>
public enum ProgressKind
{
    /// <summary>BuildKit's redrawn terminal display.</summary>
    Tty,
    /// <summary><c>#N …</c> lines.</summary>
    Plain,
    /// <summary>Nothing until the image ID on stdout.</summary>
    Quiet,
    /// <summary>One SolveStatus JSON object per line.</summary>
    RawJson,
}

/// <summary>The display chosen, and whether img's own <c>Building …</c>/<c>Successfully built …</c> lines go with it.</summary>
public sealed record ProgressMode(ProgressKind Kind)
{
    /// <summary>Machine-read and silent displays get nothing but their own output on stderr.</summary>
    public bool ShowsHeadings => Kind is ProgressKind.Tty or ProgressKind.Plain;
}

/// <summary>Reads <c>--progress</c>, <c>-q/--quiet</c> and the original's <c>--no-console</c> (an alias of <c>--progress plain</c>).</summary>
public static class ProgressModes
{
    public static ProgressMode Choose(ParsedArgs args, bool stderrIsTerminal)
    {
        if (args.Bool("quiet")) return new(ProgressKind.Quiet);
        var value = args.String("progress", "auto");
        if (value == "auto" && args.Bool("no-console")) value = "plain";
        return value switch
        {
            "auto" => new(stderrIsTerminal ? ProgressKind.Tty : ProgressKind.Plain),
            "tty" => new(ProgressKind.Tty),
            "plain" => new(ProgressKind.Plain),
            "quiet" => new(ProgressKind.Quiet),
            "rawjson" => new(ProgressKind.RawJson),
            _ => throw new CommandException($"invalid progress mode \"{value}\": want auto, plain, tty, quiet or rawjson"),
        };
    }
}
