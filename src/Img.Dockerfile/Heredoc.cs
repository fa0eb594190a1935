using System.Text.RegularExpressions;

namespace Img.Dockerfile;

/// <summary>Recognition of heredoc words (<c>&lt;&lt;EOF</c>, <c>&lt;&lt;-EOF</c>, <c>3&lt;&lt;"EOF"</c>) in RUN/COPY/ADD lines.</summary>
public static partial class HeredocSyntax
{
    private static readonly Dictionary<string, string> NoEnv = [];

    /// <summary>Instructions whose lines may introduce heredocs.</summary>
    public static readonly IReadOnlySet<string> Instructions = new HashSet<string> { "add", "copy", "run" };

    /// <summary>
    /// Parses one word as a heredoc marker; null when it is not one. The body is expanded later only when
    /// no part of the delimiter was quoted.
    /// </summary>
    public static Heredoc? Parse(string word)
    {
        var m = Marker().Match(word);
        if (!m.Success)
            return null;
        var rest = m.Groups[3].Value;
        if (rest.Length == 0)
            return null;
        _ = uint.TryParse(m.Groups[1].Value, out var fd);
        var chomp = m.Groups[2].Value == "-";

        var lex = new ShellLex('\\') { SkipUnsetEnv = true };
        var words = lex.ProcessWords(rest, NoEnv);
        if (words.Count != 1)
            return null;
        lex.RawQuotes = true;
        var raw = lex.ProcessWords(rest, NoEnv);
        if (raw.Count != words.Count)
            throw new DockerfileException($"internal lexing of heredoc produced inconsistent results: {rest}");

        // Quotes that disappear when quotes are processed mean some part of the word was quoted.
        var expand = CountQuotes(words[0]) == CountQuotes(raw[0]);
        return new Heredoc(words[0], fd, expand, chomp, "");
    }

    /// <summary>All heredoc markers on an instruction line, in order.</summary>
    public static List<Heredoc> FromLine(string line)
    {
        var lex = new ShellLex('\\') { RawQuotes = true, RawEscapes = true, SkipUnsetEnv = true };
        IReadOnlyList<string> words;
        try
        {
            words = lex.ProcessWords(line, NoEnv);
        }
        catch (ShellExpansionException)
        {
            words = [];
        }
        var docs = new List<Heredoc>();
        foreach (var word in words)
        {
            if (Parse(word) is { } doc)
                docs.Add(doc);
        }
        return docs;
    }

    /// <summary>Strips leading tabs from every line (the <c>&lt;&lt;-</c> form).</summary>
    public static string ChompContent(string content) => LeadingTabs().Replace(content, "");

    private static int CountQuotes(string s) => s.Count(c => c is '\'' or '"');

    [GeneratedRegex(@"^(\d*)<<(-?)([^<]*)\z", RegexOptions.CultureInvariant)]
    private static partial Regex Marker();

    [GeneratedRegex(@"^\t+", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex LeadingTabs();
}
