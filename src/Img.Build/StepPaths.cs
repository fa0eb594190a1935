namespace Img.Build;

/// <summary>Paths inside the rootfs as steps spell them.</summary>
internal static class StepPaths
{
    /// <summary><paramref name="path"/> cleaned and made absolute (<c>a/../b/</c> → <c>/b</c>).</summary>
    public static string Clean(string path) => "/" + SourcePattern.Clean(path);
}
