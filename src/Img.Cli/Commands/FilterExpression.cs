using System.Text.RegularExpressions;
using Img.Cli.Framework;

namespace Img.Cli.Commands;

/// <summary>
/// containerd's filter syntax, shared by <c>ls -f</c> and <c>du -f</c>: comma-joined conditions
/// <c>field==value</c>, <c>field!=value</c>, <c>field~=regex</c>, or a bare field (present/true),
/// all of which must hold. What a field means is the caller's.
/// </summary>
internal sealed class FilterExpression
{
    private readonly List<(string Field, string Op, string Value)> _conditions = [];

    /// <param name="bareValue">What a bare field name compares against (null: the field only has to exist).</param>
    public static FilterExpression Parse(string expression, string? bareValue)
    {
        var f = new FilterExpression();
        foreach (var part in expression.Split(','))
        {
            var p = part.Trim();
            var m = Regex.Match(p, @"^([A-Za-z_.]+)\s*(==|!=|~=)\s*(.*)$");
            if (!m.Success)
            {
                if (!Regex.IsMatch(p, @"^[A-Za-z_.]+$"))
                    throw new UsageException($"invalid filter \"{expression}\": expected field==value, field!=value or field~=regex");
                f._conditions.Add(bareValue is null ? (p, "exists", "") : (p, "==", bareValue));
                continue;
            }
            string value = m.Groups[3].Value.Trim();
            if (value.Length >= 2 && value[0] == '"' && value[^1] == '"') value = value[1..^1];
            if (m.Groups[2].Value == "~=")
            {
                try { _ = new Regex(value); }
                catch (ArgumentException e) { throw new UsageException($"invalid filter \"{expression}\": {e.Message}"); }
            }
            f._conditions.Add((m.Groups[1].Value, m.Groups[2].Value, value));
        }
        return f;
    }

    /// <param name="field">A field's value, or null for a field this kind of record does not have.</param>
    public bool Matches(Func<string, string?> field) => _conditions.All(c =>
    {
        string? actual = field(c.Field);
        return c.Op switch
        {
            "exists" => actual is not null,
            "==" => actual == c.Value,
            "!=" => actual != c.Value,
            _ => actual is not null && Regex.IsMatch(actual, c.Value),
        };
    });
}
