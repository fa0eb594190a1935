using System.Text;
using System.Text.RegularExpressions;

namespace Img.Dockerfile;

/// <summary>
/// Shell glob patterns (<c>*</c>, <c>?</c>, <c>[...]</c>, <c>\x</c>) for the <c>${VAR#pat}</c>, <c>${VAR%pat}</c> and
/// <c>${VAR/pat/repl}</c> operators, compiled to regular expressions. Like BuildKit, <c>.</c> does not match a newline.
/// </summary>
public static class ShellPattern
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    /// <summary>Removes the shortest (or, if <paramref name="greedy"/>, longest) prefix of <paramref name="value"/> matching <paramref name="pattern"/>.</summary>
    public static string TrimPrefix(string value, string pattern, bool greedy) => Guard(pattern, () =>
    {
        var m = Compile(Tokenize(pattern), greedy, anchored: true).Match(value);
        return m.Success ? value[(m.Index + m.Length)..] : value;
    });

    /// <summary>Removes the shortest (or longest) suffix matching <paramref name="pattern"/>.</summary>
    public static string TrimSuffix(string value, string pattern, bool greedy) => Guard(pattern, () =>
    {
        // A regex can only find the leftmost match, so the shortest *suffix* is found by
        // matching the reversed pattern against the reversed value.
        var tokens = Tokenize(pattern);
        tokens.Reverse();
        var reversed = Reverse(value);
        var m = Compile(tokens, greedy, anchored: true).Match(reversed);
        return m.Success ? Reverse(reversed[(m.Index + m.Length)..]) : value;
    });

    /// <summary>Replaces the first (or every) longest match of <paramref name="pattern"/> with the literal <paramref name="replacement"/>.</summary>
    public static string Replace(string value, string pattern, string replacement, bool all) => Guard(pattern, () =>
    {
        var re = Compile(Tokenize(pattern), greedy: true, anchored: false);
        // ${V//x/long} grows the value per match: stop at the word limit before the result is allocated.
        long length = value.Length;
        string Grow(Match m)
        {
            length += replacement.Length - m.Length;
            if (length > ShellLex.MaxWordLength)
                throw new ShellExpansionException($"expansion longer than {ShellLex.MaxWordLength} characters (the limit of one word)");
            return replacement;
        }
        return all ? re.Replace(value, Grow) : re.Replace(value, Grow, 1);
    });

    /// <summary>Whether the whole of <paramref name="value"/> matches the glob.</summary>
    public static bool IsMatch(string value, string pattern) => Guard(pattern, () =>
    {
        var re = new Regex("^(?:" + ToRegex(Tokenize(pattern), greedy: true) + ")$", RegexOptions.CultureInvariant, Timeout);
        return re.IsMatch(value);
    });

    /// <summary>
    /// A glob the regex engine rejects (e.g. the reversed range <c>[z-a]</c>) or that runs past the match timeout is
    /// an expansion error, as BuildKit reports a failed regexp compile.
    /// </summary>
    private static T Guard<T>(string pattern, Func<T> match)
    {
        try
        {
            return match();
        }
        catch (RegexParseException e)
        {
            throw new ShellExpansionException($"invalid pattern ({pattern}) in substitution: {e.Error}");
        }
        catch (RegexMatchTimeoutException)
        {
            throw new ShellExpansionException($"pattern ({pattern}) in substitution took too long to match");
        }
    }

    private static Regex Compile(List<string> tokens, bool greedy, bool anchored) =>
        new((anchored ? "^" : "") + ToRegex(tokens, greedy), RegexOptions.CultureInvariant, Timeout);

    private static string ToRegex(List<string> tokens, bool greedy)
    {
        // Literals go in groups of at most 256: .NET's regex parser merges adjacent escaped characters by
        // repeated string concatenation, which is quadratic for one long run (seconds at 60,000 characters).
        const int Chunk = 256;
        var sb = new StringBuilder();
        var run = 0;
        foreach (var t in tokens)
        {
            var literal = (t.Length == 2 && t[0] == '\\') || t.StartsWith("(?:", StringComparison.Ordinal);
            if (literal && run == 0)
                sb.Append("(?:");
            else if (!literal && run > 0)
            {
                sb.Append(')');
                run = 0;
            }
            if (literal && ++run == Chunk)
                run = -1; // closed after this token
            sb.Append(t switch
            {
                "*" => greedy ? ".*" : ".*?",
                "?" => ".",
                _ when t.Length == 2 && t[0] == '\\' => Regex.Escape(t[1..]),
                _ => t, // a bracket class or a grouped surrogate pair, already regex syntax
            });
            if (run == -1)
            {
                sb.Append(')');
                run = 0;
            }
        }
        if (run > 0)
            sb.Append(')');
        return sb.ToString();
    }

    /// <summary>
    /// Splits a glob into tokens: "*", "?", a ready regex class "[...]", or a one-character literal
    /// prefixed with "\" (so literal '*' is "\*" and is never confused with the wildcard).
    /// </summary>
    private static List<string> Tokenize(string pattern)
    {
        var tokens = new List<string>();
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            switch (c)
            {
                case '*':
                    tokens.Add("*");
                    break;
                case '?':
                    tokens.Add("?");
                    break;
                case '\\':
                    if (i + 1 >= pattern.Length)
                        throw new ShellExpansionException($"invalid pattern ({pattern}) in substitution: trailing backslash");
                    tokens.Add("\\" + pattern[++i]);
                    break;
                case '[':
                    var end = BracketEnd(pattern, i);
                    if (end < 0)
                    {
                        tokens.Add("\\[");
                        break;
                    }
                    tokens.Add(BracketToRegex(pattern[(i + 1)..end]));
                    i = end;
                    break;
                default:
                    if (char.IsHighSurrogate(c) && i + 1 < pattern.Length)
                    {
                        // Keep surrogate pairs together so reversing for suffix matching stays valid.
                        tokens.Add("(?:" + Regex.Escape(pattern.Substring(i, 2)) + ")");
                        i++;
                        break;
                    }
                    tokens.Add("\\" + c);
                    break;
            }
        }
        return tokens;
    }

    private static int BracketEnd(string pattern, int start)
    {
        var i = start + 1;
        if (i < pattern.Length && (pattern[i] == '!' || pattern[i] == '^'))
            i++;
        if (i < pattern.Length && pattern[i] == ']')
            i++; // a leading ']' is a member, not the end
        for (; i < pattern.Length; i++)
        {
            if (pattern[i] == '\\')
                i++;
            else if (pattern[i] == ']')
                return i;
        }
        return -1;
    }

    private static string BracketToRegex(string body)
    {
        var sb = new StringBuilder("[");
        var i = 0;
        if (body.Length > 0 && (body[0] == '!' || body[0] == '^'))
        {
            sb.Append('^');
            i = 1;
        }
        for (; i < body.Length; i++)
        {
            var c = body[i];
            if (c == '\\' && i + 1 < body.Length)
                c = body[++i];
            if (c == '-' && i > 0 && i < body.Length - 1)
            {
                sb.Append('-');
                continue;
            }
            if (c is '\\' or '[' or ']' or '^' or '-')
                sb.Append('\\');
            sb.Append(c);
        }
        return sb.Append(']').ToString();
    }

    private static string Reverse(string s)
    {
        var runes = s.EnumerateRunes().ToArray();
        Array.Reverse(runes);
        var sb = new StringBuilder(s.Length);
        foreach (var r in runes)
            sb.Append(r.ToString());
        return sb.ToString();
    }
}
