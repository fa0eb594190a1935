using System.Text;
using System.Text.RegularExpressions;

namespace Img.Dockerfile;

/// <summary>A non-fatal finding of the parser (e.g. an empty continuation line).</summary>
public sealed record ParseWarning(string Short, string Detail, int Line);

/// <summary>The parse tree of a Dockerfile plus what the parser learned on the way.</summary>
/// <param name="Ast">Root node; its children are the instructions.</param>
/// <param name="EscapeToken">The escape character in force (<c>\</c> or <c>`</c>).</param>
/// <param name="Warnings">Non-fatal findings.</param>
/// <param name="Directives">Parser directives found at the top of the file.</param>
public sealed record ParseResult(Node Ast, char EscapeToken, IReadOnlyList<ParseWarning> Warnings, IReadOnlyList<Directive> Directives)
{
    /// <summary>The <c># syntax=</c> directive value, if any.</summary>
    public string? Syntax => Directives.FirstOrDefault(d => d.Name == "syntax")?.Value;

    /// <summary>BuildKit-format dump of the whole tree, one instruction per line, ending in a newline.</summary>
    public string Dump() => Ast.Dump() + "\n";
}

/// <summary>
/// Dockerfile parser producing BuildKit's parse tree: directives, comments, line continuations, JSON and shell
/// forms, builder flags and heredocs. Variables are not expanded here.
/// </summary>
public static partial class Parser
{
    /// <summary>Longest accepted line, as bufio.Scanner's default token limit.</summary>
    public const int MaxLineBytes = 64 * 1024;

    /// <summary>Parses Dockerfile text. Throws <see cref="DockerfileException"/> naming the line on failure.</summary>
    public static ParseResult Parse(string text)
    {
        var lines = new LineReader(text);
        var directives = new DirectiveParser();
        var found = new List<Directive>();
        var escape = '\\';
        var root = new Node { StartLine = -1 };
        var warnings = new List<ParseWarning>();
        var comments = new List<string>();
        var currentLine = 0;

        // Runs the directive parser on every physical line, as BuildKit does; it stops at the first non-directive.
        string ProcessLine(string raw, bool stripLeft)
        {
            var token = TrimNewline(raw);
            if (stripLeft)
                token = token.TrimStart();
            try
            {
                if (directives.ParseLine(token) is { } d)
                {
                    found.Add(d);
                    if (d.Name == "escape")
                        escape = ParseEscape(d.Value);
                }
            }
            catch (DockerfileException e)
            {
                throw e.WithLocation(currentLine + 1, 0);
            }
            return token.StartsWith('#') ? "" : token;
        }

        while (lines.Next() is { } raw)
        {
            if (currentLine == 0 && raw.StartsWith('\uFEFF'))
                raw = raw[1..];
            if (IsComment(raw))
            {
                var comment = raw[1..].Trim();
                if (comment.Length == 0)
                    comments.Clear();
                else
                    comments.Add(comment);
            }
            var processed = ProcessLine(raw, true);
            currentLine++;
            var startLine = currentLine;
            var (first, isEnd) = TrimContinuation(processed, escape);
            if (isEnd && first.Length == 0)
                continue;

            var buf = new StringBuilder(first);
            var hasEmptyContinuation = false;
            while (!isEnd && lines.Next() is { } cont)
            {
                var part = ProcessLine(cont, false);
                currentLine++;
                if (IsComment(cont))
                    continue; // comment lines inside a continuation are skipped
                if (part.TrimStart().Length == 0)
                {
                    hasEmptyContinuation = true;
                    continue;
                }
                (part, isEnd) = TrimContinuation(part, escape);
                buf.Append(part);
            }
            var line = buf.ToString();
            if (hasEmptyContinuation)
                warnings.Add(new ParseWarning("Empty continuation line found in: " + line, "Empty continuation lines will become errors in a future release", currentLine));

            Node child;
            try
            {
                child = NodeFromLine(line, escape, [.. comments]);
                if (CanContainHeredoc(child) && line.Contains("<<", StringComparison.Ordinal))
                {
                    foreach (var doc in HeredocSyntax.FromLine(line))
                    {
                        var body = new StringBuilder();
                        var terminated = false;
                        while (lines.Next() is { } bodyLine)
                        {
                            currentLine++;
                            var candidate = TrimNewline(bodyLine);
                            if (doc.Chomp)
                                candidate = candidate.TrimStart('\t');
                            if (candidate == doc.Name)
                            {
                                terminated = true;
                                break;
                            }
                            body.Append(bodyLine);
                        }
                        if (!terminated)
                            throw new DockerfileException("unterminated heredoc");
                        child.Heredocs.Add(doc with { Content = body.ToString() });
                    }
                }
            }
            catch (DockerfileException e)
            {
                throw e.WithLocation(startLine, currentLine);
            }
            catch (ShellExpansionException e)
            {
                throw new DockerfileException(e.Message, startLine, currentLine, e);
            }
            root.AddChild(child, startLine, currentLine);
            comments.Clear();
        }

        if (root.StartLine < 0)
            throw new DockerfileException("file with no instructions", Math.Max(currentLine, 1));
        return new ParseResult(root, escape, warnings, found);
    }

    /// <summary>Parses one logical instruction line (continuations already joined) into an instruction node.</summary>
    public static Node NodeFromLine(string line, char escapeToken, IReadOnlyList<string> comments)
    {
        var (cmd, flags, args) = SplitCommand(line);
        var parsed = LineParsers.Dispatch(cmd, args, escapeToken);
        return new Node
        {
            Value = cmd,
            Original = line,
            Flags = flags,
            Next = parsed.First,
            IsJson = parsed.IsJson,
            PrevComment = comments,
        };
    }

    private static char ParseEscape(string value) => value switch
    {
        "`" => '`',
        "\\" => '\\',
        _ => throw new DockerfileException($"invalid escape token '{value}' does not match ` or \\"),
    };

    private static bool CanContainHeredoc(Node node)
    {
        if (node.Value == "onbuild" && node.Next is { Children.Count: > 0 } holder)
            node = holder.Children[0];
        return HeredocSyntax.Instructions.Contains(node.Value) && !node.IsJson;
    }

    private static string TrimNewline(string s) => s.TrimEnd('\r', '\n');

    private static bool IsComment(string raw) => TrimNewline(raw).TrimStart().StartsWith('#');

    /// <summary>Removes a trailing escape token (plus blanks) unless it is itself escaped; reports whether the line ends here.</summary>
    private static (string Line, bool IsEnd) TrimContinuation(string line, char escape)
    {
        var end = line.Length;
        while (end > 0 && line[end - 1] is ' ' or '\t')
            end--;
        if (end == 0 || line[end - 1] != escape)
            return (line, true);
        // "\\" at the end is an escaped escape, not a continuation (a lone "\" on its own line is one).
        if (end >= 2 && line[end - 2] == escape)
            return (line, true);
        return (line[..(end - 1)], false);
    }

    /// <summary>Splits "CMD --flag=x args" into the lower-cased command, its flags and the remaining argument text.</summary>
    internal static (string Command, List<string> Flags, string Args) SplitCommand(string line)
    {
        var trimmed = line.Trim();
        var m = CommandSplit().Match(trimmed);
        var cmd = (m.Success ? trimmed[..m.Index] : trimmed).ToLowerInvariant();
        var flags = new List<string>();
        var args = "";
        if (m.Success)
            (args, flags) = ExtractBuilderFlags(trimmed[(m.Index + m.Length)..]);
        return (cmd, flags, args.Trim());
    }

    /// <summary>Consumes leading "--flag" words (quotes and backslashes processed) and returns the rest of the line.</summary>
    private static (string Remainder, List<string> Flags) ExtractBuilderFlags(string line)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var inWord = false;
        var inQuote = false;
        var quote = '\0';
        var blankOk = false;
        for (var pos = 0; pos <= line.Length; pos++)
        {
            var ch = pos < line.Length ? line[pos] : '\0';
            if (!inWord && !inQuote)
            {
                if (pos == line.Length)
                    break;
                if (char.IsWhiteSpace(ch))
                    continue;
                if (ch != '-' || pos + 1 == line.Length || line[pos + 1] != '-')
                    return (line[pos..], words);
                inWord = true;
            }
            if (pos == line.Length)
            {
                if (word.ToString() != "--" && (blankOk || word.Length > 0))
                    words.Add(word.ToString());
                break;
            }
            if (!inQuote)
            {
                if (char.IsWhiteSpace(ch))
                {
                    inWord = false;
                    if (word.ToString() == "--")
                        return (line[pos..], words);
                    if (blankOk || word.Length > 0)
                        words.Add(word.ToString());
                    word.Clear();
                    blankOk = false;
                    continue;
                }
                if (ch is '\'' or '"')
                {
                    quote = ch;
                    blankOk = true;
                    inQuote = true;
                    continue;
                }
                if (ch == '\\')
                {
                    if (pos + 1 == line.Length)
                        continue;
                    ch = line[++pos];
                }
                word.Append(ch);
                continue;
            }
            if (ch == quote)
            {
                inQuote = false;
                continue;
            }
            if (ch == '\\')
            {
                if (pos + 1 == line.Length)
                {
                    inQuote = false;
                    continue;
                }
                ch = line[++pos];
            }
            word.Append(ch);
        }
        return ("", words);
    }

    [GeneratedRegex(@"[\t\v\f\r ]+", RegexOptions.CultureInvariant)]
    private static partial Regex CommandSplit();

    /// <summary>Splits text into physical lines keeping their line endings, enforcing the line-length limit.</summary>
    private sealed class LineReader(string text)
    {
        private int _pos;

        public string? Next()
        {
            if (_pos >= text.Length)
                return null;
            var nl = text.IndexOf('\n', _pos);
            var end = nl < 0 ? text.Length : nl + 1;
            var line = text[_pos..end];
            _pos = end;
            if (line.Length > MaxLineBytes / 4 && Encoding.UTF8.GetByteCount(line) > MaxLineBytes)
                throw new DockerfileException($"dockerfile line greater than max allowed size of {MaxLineBytes - 1}");
            return line;
        }
    }
}
