using System.Text;
using System.Text.Json;

namespace Img.Dockerfile;

/// <summary>
/// Per-instruction argument parsers of the parse-tree stage (BuildKit's line_parsers): they split the argument
/// text into argument nodes but never expand variables or strip quotes.
/// </summary>
internal static class LineParsers
{
    private static readonly char[] Blanks = ['\t', '\v', '\f', '\r', ' '];

    public sealed record Parsed(Node? First, bool IsJson);

    private static readonly Parsed Empty = new(null, false);

    public static Parsed Dispatch(string command, string rest, char escape) => command switch
    {
        "add" or "copy" or "volume" => MaybeJsonToList(rest),
        "arg" => NameOrNameVal(rest, escape),
        "cmd" or "entrypoint" or "run" or "shell" => MaybeJson(rest),
        "env" => new(NameVal(rest, "ENV", escape), false),
        "label" => new(NameVal(rest, "LABEL", escape), false),
        "expose" or "from" => new(WhitespaceDelimited(rest), false),
        "healthcheck" => HealthConfig(rest),
        "maintainer" or "stopsignal" or "user" or "workdir" => new(rest.Length == 0 ? null : new Node { Value = rest }, false),
        "onbuild" => SubCommand(rest, escape),
        _ => new(new Node(), false), // unknown instructions keep no arguments; the instruction parser rejects them
    };

    /// <summary>Splits words on whitespace, keeping quotes and escapes (ENV/LABEL/ARG).</summary>
    public static List<string> ParseWords(string rest, char escape)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var inQuote = false;
        var inWord = false;
        var quote = '\0';
        var blankOk = false;
        for (var pos = 0; pos < rest.Length; pos++)
        {
            var ch = rest[pos];
            if (!inWord && !inQuote)
            {
                if (char.IsWhiteSpace(ch))
                    continue;
                inWord = true;
            }
            if (inWord && !inQuote)
            {
                if (char.IsWhiteSpace(ch))
                {
                    inWord = false;
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
                }
                if (ch == escape)
                {
                    if (pos + 1 == rest.Length)
                        continue; // a trailing escape is dropped
                    // Outside quotes the escape and the next char are both kept, even a quote.
                    word.Append(ch);
                    ch = rest[++pos];
                }
                word.Append(ch);
                continue;
            }
            // inside quotes
            if (ch == quote)
                inQuote = false;
            if (ch == escape && quote != '\'')
            {
                if (pos + 1 == rest.Length)
                {
                    inQuote = false;
                    continue;
                }
                word.Append(ch);
                ch = rest[++pos];
            }
            word.Append(ch);
        }
        if ((inWord || inQuote) && (blankOk || word.Length > 0))
            words.Add(word.ToString());
        return words;
    }

    private static Node? NameVal(string rest, string key, char escape)
    {
        var words = ParseWords(rest, escape);
        if (words.Count == 0)
            return null;
        if (!words[0].Contains('='))
        {
            // Legacy "KEY name value" form: the value is the rest of the line.
            var parts = SplitBlanks(rest, 2);
            if (parts.Count < 2)
                throw new DockerfileException($"{key} must have two arguments");
            return KeyValue(parts[0], parts[1], "");
        }
        Node? root = null;
        Node? tail = null;
        foreach (var word in words)
        {
            var eq = word.IndexOf('=');
            if (eq < 0)
                throw new DockerfileException($"Syntax error - can't find = in {GoQuote.Quote(word)}. Must be of the form: name=value");
            var node = KeyValue(word[..eq], word[(eq + 1)..], "=");
            if (root is null)
                root = node;
            else
                tail!.Next = node;
            tail = node.Next!.Next;
        }
        return root;
    }

    private static Node KeyValue(string key, string value, string sep) =>
        new() { Value = key, Next = new Node { Value = value, Next = new Node { Value = sep } } };

    private static Parsed NameOrNameVal(string rest, char escape) => new(Chain(ParseWords(rest, escape)), false);

    private static Node? WhitespaceDelimited(string rest) => rest.Length == 0 ? null : Chain(SplitBlanks(rest, -1));

    private static Node? Chain(IEnumerable<string> values)
    {
        Node? root = null;
        Node? tail = null;
        foreach (var v in values)
        {
            var node = new Node { Value = v };
            if (root is null)
                root = node;
            else
                tail!.Next = node;
            tail = node;
        }
        return root;
    }

    /// <summary>Go's <c>regexp.Split</c> on runs of [\t\v\f\r ] with a limit (-1 = all).</summary>
    private static List<string> SplitBlanks(string s, int limit)
    {
        var parts = new List<string>();
        var start = 0;
        var i = 0;
        while (i < s.Length)
        {
            if (limit > 0 && parts.Count == limit - 1)
                break;
            if (Array.IndexOf(Blanks, s[i]) >= 0)
            {
                var end = i;
                while (end < s.Length && Array.IndexOf(Blanks, s[end]) >= 0)
                    end++;
                parts.Add(s[start..i]);
                start = i = end;
                continue;
            }
            i++;
        }
        parts.Add(s[start..]);
        return parts;
    }

    private sealed class NotStringArrayException() : DockerfileException("when using JSON array syntax, arrays must be comprised of strings only");

    /// <summary>Parses a JSON array of strings; null when the text is not valid JSON.</summary>
    private static List<string>? ParseJson(string rest)
    {
        rest = rest.TrimStart();
        if (!rest.StartsWith('['))
            return null;
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(rest, new JsonDocumentOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow });
        }
        catch (Exception e) when (e is JsonException or ArgumentException)
        {
            // ArgumentException: a lone UTF-16 surrogate cannot be transcoded to UTF-8, so it is not JSON either.
            return null;
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Array)
                return null;
            var list = new List<string>();
            foreach (var e in doc.RootElement.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.String)
                    throw new NotStringArrayException();
                list.Add(e.GetString()!);
            }
            return list;
        }
    }

    private static Parsed MaybeJson(string rest)
    {
        if (rest.Length == 0)
            return Empty;
        var json = ParseJson(rest);
        return json is not null ? new(Chain(json), true) : new(new Node { Value = rest }, false);
    }

    private static Parsed MaybeJsonToList(string rest)
    {
        var json = ParseJson(rest);
        return json is not null ? new(Chain(json), true) : new(WhitespaceDelimited(rest), false);
    }

    private static Parsed HealthConfig(string rest)
    {
        var sep = 0;
        while (sep < rest.Length && !char.IsWhiteSpace(rest[sep]))
            sep++;
        var next = sep;
        while (next < rest.Length && char.IsWhiteSpace(rest[next]))
            next++;
        if (sep == 0)
            return Empty;
        var cmd = MaybeJson(rest[next..]);
        return new(new Node { Value = rest[..sep], Next = cmd.First }, cmd.IsJson);
    }

    private static Parsed SubCommand(string rest, char escape)
    {
        if (rest.Length == 0)
            return Empty;
        var child = Parser.NodeFromLine(rest, escape, []);
        var holder = new Node();
        holder.Children.Add(child);
        return new(holder, false);
    }
}
