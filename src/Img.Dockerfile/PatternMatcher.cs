using System.Text;
using System.Text.RegularExpressions;

namespace Img.Dockerfile;

/// <summary>One compiled .dockerignore pattern (moby/patternmatcher semantics).</summary>
public sealed class IgnorePattern
{
    private readonly Regex? _regex;
    private readonly string? _literal;

    private IgnorePattern[]? _componentMatchers;

    internal IgnorePattern(string cleaned, bool exclusion, bool compiled = true)
    {
        Text = cleaned;
        IsExclusion = exclusion;
        var (regex, literal) = Compile(cleaned);
        _regex = regex is null ? null : new Regex(regex, RegexOptions.CultureInvariant | RegexOptions.Singleline | (compiled ? RegexOptions.Compiled : RegexOptions.None));
        (_fast, _literal) = literal is not null ? (FastKind.Literal, literal) : Classify(cleaned);
        if (_fast != FastKind.None)
            _regex = null;
        Components = cleaned.Split('/');
    }

    /// <summary>The cleaned pattern without a leading <c>!</c>.</summary>
    public string Text { get; }

    /// <summary>True for <c>!pattern</c> (re-include).</summary>
    public bool IsExclusion { get; }

    internal string[] Components { get; }

    /// <summary>Whether the whole (cleaned, slash-separated) path matches.</summary>
    public bool Match(string path) => _fast switch
    {
        FastKind.Literal => path == _literal,
        FastKind.AnyDirThenLiteral => path == _literal || (path.EndsWith(_literal!, StringComparison.Ordinal) && path.Length > _literal!.Length && path[^(_literal.Length + 1)] == '/'),
        FastKind.LiteralDirPrefix => path.StartsWith(_literal!, StringComparison.Ordinal),
        FastKind.AnyDirThenSuffix => path.EndsWith(_literal!, StringComparison.Ordinal),
        _ => _regex!.IsMatch(path),
    };

    private enum FastKind { None, Literal, AnyDirThenLiteral, LiteralDirPrefix, AnyDirThenSuffix }

    private readonly FastKind _fast;

    /// <summary>Common shapes (<c>lit</c>, <c>**/lit</c>, <c>lit/**</c>, <c>**/*suffix</c>) are matched with string operations.</summary>
    private static (FastKind Kind, string? Literal) Classify(string p)
    {
        static bool Plain(string s) => s.Length > 0 && s.IndexOfAny(['*', '?', '[', ']', '\\']) < 0;
        if (Plain(p))
            return (FastKind.Literal, p);
        if (p.StartsWith("**/*", StringComparison.Ordinal) && Plain(p[4..]) && !p[4..].Contains('/'))
            return (FastKind.AnyDirThenSuffix, p[4..]);
        if (p.StartsWith("**/", StringComparison.Ordinal) && Plain(p[3..]))
            return (FastKind.AnyDirThenLiteral, p[3..]);
        if (p.EndsWith("/**", StringComparison.Ordinal) && Plain(p[..^3]))
            return (FastKind.LiteralDirPrefix, p[..^2]);
        return (FastKind.None, null);
    }

    /// <summary>Whether this pattern could match <paramref name="dir"/>, an ancestor of it or something below it.</summary>
    internal bool CouldMatchWithin(string[] dirComponents)
    {
        _componentMatchers ??= Components.Select(c => new IgnorePattern(c, false, compiled: false)).ToArray();
        var n = Math.Min(Components.Length, dirComponents.Length);
        for (var i = 0; i < n; i++)
        {
            if (Components[i].Contains("**", StringComparison.Ordinal))
                return true;
            if (!_componentMatchers[i].Match(dirComponents[i]))
                return false;
        }
        return true;
    }

    /// <summary>Translates a pattern to a regex; returns a literal instead when it has no special characters.</summary>
    private static (string? Regex, string? Literal) Compile(string pattern)
    {
        var sb = new StringBuilder("^");
        var special = false;
        for (var i = 0; i < pattern.Length; i++)
        {
            var ch = pattern[i];
            switch (ch)
            {
                case '*':
                    special = true;
                    if (i + 1 < pattern.Length && pattern[i + 1] == '*')
                    {
                        i++;
                        if (i + 1 < pattern.Length && pattern[i + 1] == '/')
                            i++; // "**/" behaves as "**"
                        sb.Append(i + 1 >= pattern.Length ? ".*" : "(.*/)?");
                    }
                    else
                    {
                        sb.Append("[^/]*");
                    }
                    break;
                case '?':
                    special = true;
                    sb.Append("[^/]");
                    break;
                case '\\':
                    special = true;
                    if (i + 1 < pattern.Length)
                        sb.Append(Regex.Escape(pattern[++i].ToString()));
                    else
                        sb.Append(@"\\");
                    break;
                case '[' or ']':
                    special = true;
                    sb.Append(ch);
                    break;
                default:
                    sb.Append(Regex.Escape(ch.ToString()));
                    break;
            }
        }
        if (!special)
            return (null, pattern);
        sb.Append('$');
        try
        {
            _ = new Regex(sb.ToString(), RegexOptions.CultureInvariant);
        }
        catch (ArgumentException e)
        {
            throw new DockerfileException($"syntax error in pattern: {pattern}: {e.Message}");
        }
        return (sb.ToString(), null);
    }
}

/// <summary>
/// Ordered ignore patterns where the last matching pattern wins and a match on a parent directory applies to
/// everything below it (moby/patternmatcher MatchesOrParentMatches). Thread-safe after construction.
/// </summary>
public sealed class PatternMatcher
{
    private readonly IgnorePattern[] _patterns;
    private readonly Dictionary<string, bool[]> _dirCache = new(StringComparer.Ordinal);
    private readonly Lock _cacheLock = new();

    /// <summary>The longest pattern accepted: Linux PATH_MAX.</summary>
    public const int MaxPatternLength = 4096;

    /// <summary>Compiles patterns (each may start with <c>!</c>). Throws <see cref="DockerfileException"/> for an invalid or over-long pattern.</summary>
    public PatternMatcher(IEnumerable<string> patterns)
    {
        var list = new List<IgnorePattern>();
        foreach (var raw in patterns)
        {
            var p = raw.Trim();
            if (p.Length == 0)
                continue;
            var exclusion = false;
            if (p[0] == '!')
            {
                if (p.Length == 1)
                    throw new DockerfileException("illegal exclusion pattern: \"!\"");
                exclusion = true;
                p = p[1..];
            }
            var cleaned = PathClean.Clean(p);
            // A path longer than PATH_MAX cannot be in a build context, so neither can a match for a pattern this
            // long; refusing it also keeps regex construction (superlinear in the number of escaped literals) cheap.
            if (cleaned.Length > MaxPatternLength)
                throw new DockerfileException($"pattern is {cleaned.Length} characters long; the limit is {MaxPatternLength}");
            list.Add(new IgnorePattern(cleaned, exclusion));
        }
        _patterns = [.. list];
        HasExclusions = _patterns.Any(p => p.IsExclusion);
    }

    /// <summary>The compiled patterns in order.</summary>
    public IReadOnlyList<IgnorePattern> Patterns => _patterns;

    /// <summary>True when any <c>!</c> pattern exists.</summary>
    public bool HasExclusions { get; }

    /// <summary>Whether <paramref name="path"/> (relative, slash-separated) is excluded by itself or through a parent directory.</summary>
    public bool MatchesOrParentMatches(string path)
    {
        if (_patterns.Length == 0)
            return false;
        var file = PathClean.Relative(path);
        var slash = file.LastIndexOf('/');
        var parents = slash < 0 ? null : ParentMatches(file[..slash]);
        var matched = false;
        for (var i = 0; i < _patterns.Length; i++)
        {
            var p = _patterns[i];
            // An include can only change an unmatched path and an exclusion a matched one.
            if (p.IsExclusion != matched)
                continue;
            if (p.Match(file) || (parents is not null && parents[i]))
                matched = !p.IsExclusion;
        }
        return matched;
    }

    /// <summary>
    /// True when <paramref name="dir"/> is excluded and no <c>!</c> pattern could re-include anything below it,
    /// so a context walk may skip the whole directory.
    /// </summary>
    public bool CanSkipDir(string dir)
    {
        if (!MatchesOrParentMatches(dir))
            return false;
        if (!HasExclusions)
            return true;
        var components = PathClean.Relative(dir).Split('/');
        return !_patterns.Any(p => p.IsExclusion && p.CouldMatchWithin(components));
    }

    /// <summary>For each pattern, whether it matches <paramref name="dir"/> or one of its ancestors (memoised per directory).</summary>
    private bool[] ParentMatches(string dir)
    {
        lock (_cacheLock)
        {
            if (_dirCache.TryGetValue(dir, out var cached))
                return cached;
        }
        var slash = dir.LastIndexOf('/');
        var above = slash < 0 ? null : ParentMatches(dir[..slash]);
        var result = new bool[_patterns.Length];
        for (var i = 0; i < _patterns.Length; i++)
            result[i] = (above is not null && above[i]) || _patterns[i].Match(dir);
        lock (_cacheLock)
        {
            if (_dirCache.Count > 200_000)
                _dirCache.Clear(); // bound memory on huge contexts; entries are cheap to recompute
            _dirCache[dir] = result;
        }
        return result;
    }
}

/// <summary>Go's <c>path.Clean</c> for slash-separated paths, plus stripping to a context-relative form.</summary>
public static class PathClean
{
    /// <summary>Lexically cleans a path: collapses slashes, resolves <c>.</c> and <c>..</c>, drops the trailing slash.</summary>
    public static string Clean(string path)
    {
        if (path.Length == 0)
            return ".";
        if (IsClean(path))
            return path;
        var rooted = path[0] == '/';
        var parts = new List<string>();
        foreach (var part in path.Split('/'))
        {
            if (part.Length == 0 || part == ".")
                continue;
            if (part == "..")
            {
                if (parts.Count > 0 && parts[^1] != "..")
                    parts.RemoveAt(parts.Count - 1);
                else if (!rooted)
                    parts.Add("..");
                continue;
            }
            parts.Add(part);
        }
        var joined = string.Join('/', parts);
        return rooted ? "/" + joined : joined.Length == 0 ? "." : joined;
    }

    /// <summary>True when no component is empty, "." or "..", so cleaning would not change the path.</summary>
    private static bool IsClean(string path)
    {
        var start = 0;
        for (var i = 0; i <= path.Length; i++)
        {
            if (i < path.Length && path[i] != '/')
                continue;
            var len = i - start;
            if (len == 0 && !(i == 0 && path.Length > 1))
                return false;
            if (len == 1 && path[start] == '.')
                return false;
            if (len == 2 && path[start] == '.' && path[start + 1] == '.')
                return false;
            start = i + 1;
        }
        return true;
    }

    /// <summary>A context-relative form: cleaned, without a leading <c>/</c>.</summary>
    public static string Relative(string path)
    {
        var c = Clean(path);
        return c.Length > 1 && c[0] == '/' ? c[1..] : c;
    }
}
