using Img.Content;

namespace Img.Cli.Commands;

/// <summary>
/// <c>du -f</c>: BuildKit's usage filters on fields id, parent, description, type and the
/// booleans inuse, mutable, immutable, shared, private (a bare boolean field means true).
/// </summary>
internal sealed class CacheFilter(FilterExpression expression)
{
    public static CacheFilter Parse(string expression) => new(FilterExpression.Parse(expression, bareValue: "true"));

    public bool Matches(CacheRecord r, bool inUse) => expression.Matches(field => field switch
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
    });
}
