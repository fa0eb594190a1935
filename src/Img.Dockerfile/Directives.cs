using System.Text.RegularExpressions;

namespace Img.Dockerfile;

/// <summary>A parser directive such as <c># syntax=docker/dockerfile:1</c>.</summary>
public sealed record Directive(string Name, string Value, int Line);

/// <summary>
/// Recognises parser directives line by line. Directives are only honoured before the first instruction,
/// comment or blank line; keys are case-insensitive; each may appear once.
/// </summary>
public sealed partial class DirectiveParser
{
    /// <summary>Directive names BuildKit knows; any other key ends the directive block.</summary>
    public static readonly IReadOnlySet<string> Known = new HashSet<string> { "syntax", "escape", "check" };

    private readonly Regex _regex;
    private readonly HashSet<string> _seen = [];
    private int _line;

    /// <summary>Creates a parser for a comment prefix (<c>#</c>, or <c>//</c> for syntax detection).</summary>
    public DirectiveParser(string commentPrefix = "#", int startLine = 0)
    {
        _regex = commentPrefix == "#" ? HashDirective() : new Regex("^" + Regex.Escape(commentPrefix) + @"[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*\z", RegexOptions.CultureInvariant);
        _line = startLine;
    }

    /// <summary>True once a non-directive line was seen.</summary>
    public bool Done { get; private set; }

    /// <summary>Parses one line; returns the directive or null. Throws on a repeated directive.</summary>
    public Directive? ParseLine(string line)
    {
        _line++;
        if (Done)
            return null;
        var m = _regex.Match(line);
        if (!m.Success)
        {
            Done = true;
            return null;
        }
        var key = m.Groups[1].Value.ToLowerInvariant();
        if (!Known.Contains(key))
        {
            Done = true;
            return null;
        }
        if (!_seen.Add(key))
            throw new DockerfileException($"only one {key} parser directive can be used");
        return new Directive(key, m.Groups[2].Value, _line);
    }

    /// <summary>All directives at the top of <paramref name="text"/>.</summary>
    public List<Directive> ParseAll(string text)
    {
        var result = new List<Directive>();
        foreach (var line in text.Split('\n'))
        {
            if (Done)
                break;
            var d = ParseLine(line.TrimEnd('\r'));
            if (d is not null)
                result.Add(d);
        }
        return result;
    }

    /// <summary>
    /// The <c>syntax</c> directive of a Dockerfile, tolerating a BOM and a leading <c>#!</c> line,
    /// and falling back to <c>// syntax=</c> and a JSON <c>{"syntax": ...}</c> document as BuildKit does.
    /// Returns the image reference (text up to the first space) or null.
    /// </summary>
    public static string? DetectSyntax(string text)
    {
        var (body, line) = StripPreamble(text);
        foreach (var prefix in new[] { "#", "//" })
        {
            try
            {
                var found = new DirectiveParser(prefix, line).ParseAll(body).FirstOrDefault(d => d.Name == "syntax");
                if (found is not null)
                    return found.Value.Split(' ', 2)[0];
            }
            catch (DockerfileException)
            {
                // A duplicate directive makes this prefix unusable; try the next form.
            }
        }
        return JsonSyntax(body);
    }

    private static (string Body, int Line) StripPreamble(string text)
    {
        if (text.StartsWith('\uFEFF'))
            text = text[1..];
        if (!text.StartsWith("#!", StringComparison.Ordinal))
            return (text, 0);
        var nl = text.IndexOf('\n');
        return (nl < 0 ? "" : text[(nl + 1)..], 1);
    }

    private static string? JsonSyntax(string body)
    {
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object
                && doc.RootElement.TryGetProperty("syntax", out var v)
                && v.ValueKind == System.Text.Json.JsonValueKind.String)
                return v.GetString();
        }
        catch (System.Text.Json.JsonException)
        {
            // Not JSON: no syntax directive.
        }
        return null;
    }

    [GeneratedRegex(@"^#[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*\z", RegexOptions.CultureInvariant)]
    private static partial Regex HashDirective();
}
