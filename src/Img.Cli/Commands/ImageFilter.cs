using Img.Content;

namespace Img.Cli.Commands;

/// <summary><c>ls -f</c>: filters on image fields <c>name</c>, <c>target.digest</c>, <c>target.mediatype</c>.</summary>
internal sealed class ImageFilter(FilterExpression expression)
{
    public static ImageFilter Parse(string expression) => new(FilterExpression.Parse(expression, bareValue: null));

    public bool Matches(ImageRecord image) => expression.Matches(field => field switch
    {
        "name" => image.Name,
        "target.digest" => image.Target.Digest.ToString(),
        "target.mediatype" => image.Target.MediaType,
        _ => null,
    });
}
