namespace Img.Dockerfile;

/// <summary>An os/arch[/variant] platform as used by the builtin platform ARGs.</summary>
public sealed record PlatformInfo(string OS, string Architecture, string? Variant = null)
{
    /// <summary>Parses <c>os/arch[/variant]</c>; a bare <c>os</c> is accepted with an empty architecture.</summary>
    public static PlatformInfo Parse(string text)
    {
        var parts = text.Trim().ToLowerInvariant().Split('/');
        if (parts.Length > 3 || parts[0].Length == 0)
            throw new DockerfileException($"invalid platform {GoQuote.Quote(text)}");
        return new PlatformInfo(parts[0], parts.Length > 1 ? parts[1] : "", parts.Length > 2 && parts[2].Length > 0 ? parts[2] : null);
    }

    /// <inheritdoc/>
    public override string ToString() =>
        Variant is null ? (Architecture.Length == 0 ? OS : $"{OS}/{Architecture}") : $"{OS}/{Architecture}/{Variant}";
}
