using System.Text.RegularExpressions;
using Img.Cli.Framework;
using Img.Content;

namespace Img.Cli.Commands;

/// <summary>
/// containerd's filter expressions on image fields: <c>name==x</c>, <c>name!=x</c>,
/// <c>name~=regex</c>, <c>target.digest==sha256:…</c>, <c>target.mediatype~=index</c>.
/// Comma-joined conditions in one expression must all hold.
/// </summary>
internal sealed class ImageFilter
{
    private readonly List<(string Field, string Op, string Value)> _conditions = [];

    public static ImageFilter Parse(string expression)
    {
        var f = new ImageFilter();
        foreach (var part in expression.Split(','))
        {
            var m = Regex.Match(part.Trim(), @"^([A-Za-z_.]+)\s*(==|!=|~=)\s*(.*)$");
            if (!m.Success)
            {
                // A bare field name tests presence, which every image has for known fields.
                if (Regex.IsMatch(part.Trim(), @"^[A-Za-z_.]+$")) { f._conditions.Add((part.Trim(), "exists", "")); continue; }
                throw new UsageException($"invalid filter \"{expression}\": expected field==value, field!=value or field~=regex");
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

    public bool Matches(ImageRecord image) => _conditions.All(c =>
    {
        string? actual = c.Field switch
        {
            "name" => image.Name,
            "target.digest" => image.Target.Digest.ToString(),
            "target.mediatype" => image.Target.MediaType,
            _ => null,
        };
        return c.Op switch
        {
            "exists" => actual is not null,
            "==" => actual == c.Value,
            "!=" => actual != c.Value,
            _ => actual is not null && Regex.IsMatch(actual, c.Value),
        };
    });
}
