using Img.Cli.Framework;
using Img.Content;
using Img.Oci;

namespace Img.Cli.Commands;

/// <summary>Turns what the user typed into a normalised reference and finds its image record.</summary>
internal static class ImageNames
{
    public static Reference Parse(string raw)
    {
        if (!Reference.TryParse(raw, out var reference, out var error))
            throw new CommandException($"{error}: \"{raw}\"");
        return reference!;
    }

    public static ImageRecord Find(LocalStore store, string raw, string verb = "getting image")
    {
        var reference = Parse(raw);
        return store.Metadata.GetImage(reference.ToString())
            ?? throw new CommandException($"{verb} \"{reference}\" failed: image \"{reference}\": not found");
    }
}
