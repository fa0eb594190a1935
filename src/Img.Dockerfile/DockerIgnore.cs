namespace Img.Dockerfile;

/// <summary>
/// A .dockerignore file: Docker's line rules (comments, blank lines, <c>!</c> exceptions, leading <c>/</c> and
/// <c>./</c> stripped, patterns cleaned) on top of <see cref="PatternMatcher"/>. The Dockerfile and .dockerignore
/// may be excluded from the context; the engine reads them regardless.
/// </summary>
public sealed class DockerIgnore
{
    private DockerIgnore(IReadOnlyList<string> patterns)
    {
        Patterns = patterns;
        Matcher = new PatternMatcher(patterns);
    }

    /// <summary>An ignore file that excludes nothing.</summary>
    public static DockerIgnore Empty { get; } = new([]);

    /// <summary>The normalised patterns (with <c>!</c> kept on exceptions).</summary>
    public IReadOnlyList<string> Patterns { get; }

    /// <summary>The compiled matcher.</summary>
    public PatternMatcher Matcher { get; }

    /// <summary>Parses .dockerignore text. Throws <see cref="DockerfileException"/> for an invalid pattern.</summary>
    public static DockerIgnore Parse(string text) => new(ReadPatterns(text));

    /// <summary>Docker's ReadAll: the pattern list of a .dockerignore text.</summary>
    public static List<string> ReadPatterns(string text)
    {
        var result = new List<string>();
        var first = true;
        foreach (var rawLine in text.Split('\n'))
        {
            var line = rawLine;
            if (first)
            {
                line = line.TrimStart('\uFEFF');
                first = false;
            }
            if (line.StartsWith('#'))
                continue;
            var pattern = line.Trim();
            if (pattern.Length == 0)
                continue;
            var invert = pattern[0] == '!';
            if (invert)
                pattern = pattern[1..].Trim();
            if (pattern.Length > 0)
            {
                pattern = PathClean.Clean(pattern);
                if (pattern.Length > 1 && pattern[0] == '/')
                    pattern = pattern[1..];
            }
            result.Add(invert ? "!" + pattern : pattern);
        }
        return result;
    }

    /// <summary>Whether a context-relative path is excluded (directly or through a parent directory).</summary>
    public bool IsExcluded(string path) => Matcher.MatchesOrParentMatches(path);

    /// <summary>Whether a context walk can skip <paramref name="dir"/> entirely.</summary>
    public bool CanSkipDir(string dir) => Matcher.CanSkipDir(dir);

    /// <summary>
    /// The ignore file that applies: <c>&lt;Dockerfile&gt;.dockerignore</c> beside the Dockerfile wins over
    /// <c>&lt;context&gt;/.dockerignore</c>; null when neither exists.
    /// </summary>
    public static string? Locate(string contextDir, string? dockerfilePath)
    {
        if (!string.IsNullOrEmpty(dockerfilePath))
        {
            var full = Path.IsPathRooted(dockerfilePath) ? dockerfilePath : Path.Combine(contextDir, dockerfilePath);
            var specific = full + ".dockerignore";
            if (File.Exists(specific))
                return specific;
        }
        var shared = Path.Combine(contextDir, ".dockerignore");
        return File.Exists(shared) ? shared : null;
    }
}
