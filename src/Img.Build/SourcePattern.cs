using System.Text;
using System.Text.RegularExpressions;

namespace Img.Build;

/// <summary>COPY/ADD source patterns: Go filepath.Match syntax (<c>*</c>, <c>?</c>, <c>[…]</c>, <c>\</c>) applied component by component.</summary>
public static class SourcePattern
{
    /// <summary>True when <paramref name="pattern"/> has wildcard characters.</summary>
    public static bool HasWildcard(string pattern) => pattern.IndexOfAny(['*', '?', '[']) >= 0;

    /// <summary>
    /// The paths (relative to <paramref name="root"/>, '/'-separated) that <paramref name="pattern"/> names, sorted.
    /// Without wildcards the cleaned path itself is returned when it exists. <paramref name="excluded"/> hides paths.
    /// </summary>
    public static List<string> Match(string root, string pattern, Func<string, bool>? excluded = null)
    {
        var clean = Clean(pattern);
        if (clean.Length == 0) return [""];
        if (!HasWildcard(clean))
        {
            if (excluded?.Invoke(clean) == true) return [];
            return Posix.TryLstat(Inside(root, clean)) is null ? [] : [clean];
        }
        var parts = clean.Split('/');
        var current = new List<string> { "" };
        for (int i = 0; i < parts.Length; i++)
        {
            var next = new List<string>();
            foreach (var dir in current)
            {
                var hostDir = dir.Length == 0 ? root : RootPath.Resolve(root, "/" + dir);
                if (!HasWildcard(parts[i]))
                {
                    var p = Join(dir, Unescape(parts[i]));
                    if (Posix.TryLstat(Inside(root, p)) is not null) next.Add(p);
                    continue;
                }
                var stat = Posix.TryLstat(hostDir);
                if (stat is not { IsDirectory: true }) continue;
                var re = ToRegex(parts[i]);
                foreach (var entry in Directory.EnumerateFileSystemEntries(hostDir))
                {
                    var name = Path.GetFileName(entry);
                    if (re.IsMatch(name)) next.Add(Join(dir, name));
                }
            }
            current = next;
        }
        var result = current.Where(p => excluded?.Invoke(p) != true).ToList();
        result.Sort(StringComparer.Ordinal);
        return result;
    }

    /// <summary>Cleans a context-relative path: no leading '/', no '.' or empty components, '..' cannot climb above the root.</summary>
    public static string Clean(string path)
    {
        var stack = new List<string>();
        foreach (var part in path.Replace('\\', '/').Split('/'))
        {
            if (part.Length == 0 || part == ".") continue;
            if (part == "..") { if (stack.Count > 0) stack.RemoveAt(stack.Count - 1); continue; }
            stack.Add(part);
        }
        return string.Join('/', stack);
    }

    // Links on the way resolve inside the root; the path's own last component is not followed.
    private static string Inside(string root, string rel) => RootPath.Resolve(root, "/" + rel, followFinal: false);

    private static string Join(string dir, string name) => dir.Length == 0 ? name : dir + "/" + name;

    private static string Unescape(string s) => s.Contains('\\', StringComparison.Ordinal) ? Regex.Replace(s, @"\\(.)", "$1") : s;

    /// <summary>A regex equivalent to one Go filepath.Match component.</summary>
    public static Regex ToRegex(string component)
    {
        var sb = new StringBuilder("^");
        for (int i = 0; i < component.Length; i++)
        {
            char c = component[i];
            switch (c)
            {
                case '*': sb.Append("[^/]*"); break;
                case '?': sb.Append("[^/]"); break;
                case '\\' when i + 1 < component.Length: sb.Append(Regex.Escape(component[++i].ToString())); break;
                case '[':
                    {
                        int end = component.IndexOf(']', i + 2);
                        if (end < 0) throw new ArgumentException($"syntax error in pattern: {component}");
                        var cls = component[(i + 1)..end];
                        if (cls.StartsWith('^') || cls.StartsWith('!')) cls = "^" + cls[1..];
                        sb.Append('[').Append(cls.Replace("\\", "\\\\", StringComparison.Ordinal)).Append(']');
                        i = end;
                        break;
                    }
                default: sb.Append(Regex.Escape(c.ToString())); break;
            }
        }
        return new Regex(sb.Append('$').ToString(), RegexOptions.CultureInvariant);
    }
}
