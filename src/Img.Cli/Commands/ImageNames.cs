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

    /// <summary>The record name of an image stored without a name (docker shows such an image as <c>&lt;none&gt;</c>).</summary>
    public static string Dangling(Digest target) => "<none>@" + target;

    /// <summary>
    /// The record of a name, or of an image ID: <c>sha256:…</c> or at least 12 hex digits of the digest an image record
    /// points at, as docker accepts IDs wherever it takes an image.
    /// </summary>
    public static ImageRecord Find(LocalStore store, string raw, string verb = "getting image")
    {
        if (ById(store, raw) is { } byId) return byId;
        var reference = Parse(raw);
        return store.Metadata.GetImage(reference.ToString())
            ?? throw new CommandException($"{verb} \"{reference}\" failed: image \"{reference}\": not found");
    }

    private static ImageRecord? ById(LocalStore store, string raw)
    {
        var hex = raw.StartsWith("sha256:", StringComparison.Ordinal) ? raw["sha256:".Length..] : raw;
        if (hex.Length is < 12 or > 64 || !hex.All(char.IsAsciiHexDigitLower)) return null;
        // A name that is also hex (a repository "abcdef123456") wins, as in docker.
        if (!raw.StartsWith("sha256:", StringComparison.Ordinal) && Reference.TryParse(raw, out var named, out _) && store.Metadata.GetImage(named!.ToString()) is not null)
            return null;
        var matches = store.Metadata.ListImages().Where(i => i.Target.Digest.Hex.StartsWith(hex, StringComparison.Ordinal)).ToList();
        if (matches.Select(m => m.Target.Digest).Distinct().Count() > 1)
            throw new CommandException($"image ID {raw} is ambiguous: it starts more than one image's digest");
        return matches.FirstOrDefault();
    }
}
