namespace Img.Dockerfile.Tests;

/// <summary>Locates the shared conformance corpora beside the repository (never copied into it).</summary>
internal static class Corpus
{
    private static readonly Lazy<string> RootDir = new(() =>
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "img.sln")))
            dir = dir.Parent;
        if (dir is null)
            throw new InvalidOperationException("repository root (img.sln) not found above " + AppContext.BaseDirectory);
        return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "conformance"));
    });

    public static string Root => RootDir.Value;

    public static string Parser => Path.Combine(Root, "dockerfile-parser");

    public static string Shell => Path.Combine(Root, "dockerfile-shell");

    /// <summary>Reads a corpus file byte-exactly (no newline normalisation).</summary>
    public static string Read(string path) => File.ReadAllText(path, new System.Text.UTF8Encoding(false));
}
