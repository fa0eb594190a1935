using System.Text.RegularExpressions;
using Img.Cli.Framework;
using Img.Content;

namespace Img.Cli.Commands;

/// <summary>BuildKit's usage filters: fields id, parent, description, type and the booleans inuse, mutable, immutable, shared, private.</summary>
internal sealed class CacheFilter
{
    private readonly List<(string Field, string Op, string Value)> _conditions = [];

    public static CacheFilter Parse(string expression)
    {
        var f = new CacheFilter();
        foreach (var part in expression.Split(','))
        {
            var p = part.Trim();
            var m = Regex.Match(p, @"^([a-z]+)\s*(==|!=|~=)\s*(.*)$");
            if (m.Success) f._conditions.Add((m.Groups[1].Value, m.Groups[2].Value, m.Groups[3].Value.Trim().Trim('"')));
            else if (Regex.IsMatch(p, "^[a-z]+$")) f._conditions.Add((p, "==", "true"));
            else throw new UsageException($"invalid filter \"{expression}\"");
        }
        return f;
    }

    public bool Matches(CacheRecord r, bool inUse) => _conditions.All(c =>
    {
        string? actual = c.Field switch
        {
            "id" => r.Key,
            "parent" => r.Parent ?? "",
            "description" => r.Description,
            "type" => r.Kind,
            "inuse" => inUse ? "true" : "false",
            "mutable" => "false",
            "immutable" => "true",
            "shared" => "false",
            "private" => "true",
            _ => null,
        };
        return c.Op switch
        {
            "==" => actual == c.Value,
            "!=" => actual != c.Value,
            _ => actual is not null && Regex.IsMatch(actual, c.Value),
        };
    });
}
