namespace Img.Dockerfile;

/// <summary>
/// A Dockerfile could not be parsed or interpreted. <see cref="Line"/> is the 1-based line where the
/// offending instruction starts (0 when the error is not tied to a line).
/// </summary>
public class DockerfileException : Exception
{
    /// <summary>Creates an error for the given line range.</summary>
    public DockerfileException(string detail, int line = 0, int endLine = 0, Exception? inner = null)
        : base(Format(detail, line), inner)
    {
        Detail = detail;
        Line = line;
        EndLine = endLine == 0 ? line : endLine;
    }

    /// <summary>The message without the <c>Dockerfile:N:</c> prefix.</summary>
    public string Detail { get; }

    /// <summary>1-based first line of the instruction at fault, or 0.</summary>
    public int Line { get; }

    /// <summary>1-based last line of the instruction at fault, or 0.</summary>
    public int EndLine { get; }

    /// <summary>Returns the same error tied to a line range, unless it already has one.</summary>
    public DockerfileException WithLocation(int line, int endLine) =>
        Line > 0 ? this : new DockerfileException(Detail, line, endLine, InnerException ?? this);

    /// <summary>Ties any frontend error (including shell expansion errors) to a line range.</summary>
    public static DockerfileException At(Exception error, int line, int endLine) => error switch
    {
        DockerfileException d => d.WithLocation(line, endLine),
        _ => new DockerfileException(error.Message, line, endLine, error),
    };

    private static string Format(string detail, int line) => line > 0 ? $"Dockerfile:{line}: {detail}" : detail;
}

/// <summary>Word expansion failed (bad substitution, unterminated quote, <c>${VAR:?msg}</c> ...).</summary>
public sealed class ShellExpansionException(string message) : Exception(message);
