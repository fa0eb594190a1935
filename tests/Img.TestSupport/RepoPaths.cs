namespace Img.TestSupport;

/// <summary>Where the repository, the shared corpora and the published binary are.</summary>
public static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    /// <summary>The read-only <c>shared/</c> folder beside the checkout (CI lays it there too).</summary>
    public static string Shared => Path.GetFullPath(Path.Combine(Root, "..", "shared"));

    /// <summary>The published NativeAOT binary; <c>IMG_BINARY</c> overrides.</summary>
    public static string ImgBinary =>
        Environment.GetEnvironmentVariable("IMG_BINARY") is { Length: > 0 } b ? b : Path.Combine(Root, "out", "img");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "img.sln"))) return dir.FullName;
        throw new InvalidOperationException("cannot find the repository root (img.sln) above " + AppContext.BaseDirectory);
    }
}
