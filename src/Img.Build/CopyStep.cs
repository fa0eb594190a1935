using Img.Dockerfile;

namespace Img.Build;

/// <summary>A COPY or ADD as the step sees it, its words expanded.</summary>
internal sealed record CopyRequest(SourcesAndDest Files, string? From, string? Chown, string? Chmod, bool Parents,
    IReadOnlyList<string> Excludes, bool IsAdd, bool? Unpack, string? Checksum)
{
    public static CopyRequest Of(CopyInstruction copy) =>
        new(copy.Files, copy.From, copy.Chown, copy.Chmod, copy.Parents, copy.Excludes, false, null, null);

    public static CopyRequest Of(AddInstruction add) =>
        new(add.Files, null, add.Chown, add.Chmod, false, add.Excludes, true, add.Unpack, add.Checksum);

    public string Verb => IsAdd ? "ADD" : "COPY";
}

/// <summary>Where a COPY/ADD writes: the cleaned destination, whether it is a directory, the mode and exclusions that apply.</summary>
internal sealed record CopyTarget(string Path, bool IsDirectory, ChmodSpec? Chmod, PatternMatcher? Excludes);

/// <summary>
/// What a COPY/ADD reads, resolved before it runs: the snapshot of <c>--from</c> (null: the context), the context
/// files each source matched, the files ADD downloaded and the heredoc bodies.
/// </summary>
internal sealed record CopySources(bool FromContext, string? FromSnapshot, IReadOnlyList<(string Pattern, List<string> Matches)> Context,
    IReadOnlyList<(string Url, string File)> Downloads, IReadOnlyList<(string Path, string Data)> Heredocs);

/// <summary>
/// COPY and ADD assembled, as BuildKit's <c>dispatchCopy</c> assembles its file op: the destination, the sources (the
/// context's matches and their digest, another stage, downloads), every option in the cache key; the copying itself
/// is <see cref="CopyWriter"/>'s.
/// </summary>
internal static class CopyStep
{
    public static async Task<LayerStep> AssembleAsync(StepInputs step, CopyRequest req, CancellationToken ct)
    {
        var dest = req.Files.Dest;
        var destIsDir = dest.Length == 0 || dest.EndsWith('/') || dest == "." || dest.EndsWith("/.", StringComparison.Ordinal);
        var sourceCount = req.Files.SourcePaths.Count + req.Files.SourceContents.Count;
        if (sourceCount > 1 && !destIsDir)
            throw new BuildFailedException($"Dockerfile:{step.Line}: When using {req.Verb} with more than one source file, the destination must be a directory and end with a /");
        var target = new CopyTarget(step.Absolute(dest), destIsDir, req.Chmod is null ? null : ChmodSpec.Parse(req.Chmod),
            req.Excludes.Count > 0 ? new PatternMatcher(req.Excludes) : null);
        var keyParts = new List<string> { req.Verb, target.Path, destIsDir.ToString(), req.Chown ?? "", req.Chmod ?? "", req.Parents.ToString(), string.Join('\0', req.Excludes) };
        var sources = await SourcesAsync(step, req, keyParts, ct).ConfigureAwait(false);
        return new LayerStep($"{req.Verb} {string.Join(' ', req.Files.SourcePaths)} {target.Path}", keyParts,
            (rootfs, reporter) => new CopyWriter(step, req, target, sources).WriteAsync(rootfs, reporter, ct),
            HistoryText.Copy(req.Verb, req.Parents, req.Chown, req.Chmod, req.Files) + " # buildkit")
        {
            Release = () => Delete(sources.Downloads),
        };
    }

    /// <summary>Resolves every source, adding what it contributes to <paramref name="keyParts"/>; downloads are deleted if this fails.</summary>
    private static async Task<CopySources> SourcesAsync(StepInputs step, CopyRequest req, List<string> keyParts, CancellationToken ct)
    {
        string? fromSnapshot = null;
        var fromContext = req.From is null;
        if (!fromContext)
        {
            var (key, snapshot) = await step.SourceAsync(req.From!, ct).ConfigureAwait(false);
            keyParts.Add("from " + key);
            fromSnapshot = snapshot;
        }
        var context = step.Solver.Context;
        var downloads = new List<(string Url, string File)>();
        var matched = new List<(string Pattern, List<string> Matches)>();
        try
        {
            foreach (var src in req.Files.SourcePaths)
            {
                if (req.IsAdd && IsUrl(src))
                {
                    var (file, digest) = await UrlDownload.FetchAsync(step.Solver.Store.Content, step.Solver.Request.Limits,
                        step.Solver.Images.Registry, src, req.Checksum, ct).ConfigureAwait(false);
                    downloads.Add((src, file));
                    keyParts.Add($"url {src} {digest}");
                    continue;
                }
                if (req.Checksum is not null) throw new BuildFailedException("checksum can't be specified for non-HTTP(S) sources");
                if (!fromContext)
                {
                    keyParts.Add("src " + src);
                    continue;
                }
                var matches = context.Match(src);
                if (matches.Count == 0 && !SourcePattern.HasWildcard(src))
                    throw new BuildFailedException($"failed to compute cache key: \"/{SourcePattern.Clean(src)}\": not found");
                matched.Add((src, matches));
                keyParts.Add("src " + src + "\0" + string.Join('\0', matches) + "\0" + await context.DigestAsync(matches, ct).ConfigureAwait(false));
            }
            var heredocs = req.Files.SourceContents.Select(c => (c.Path, c.Expand ? step.Scope.ExpandHeredoc(c.Data) : c.Data)).ToList();
            foreach (var (path, data) in heredocs) keyParts.Add("heredoc " + path + "\0" + data);
            return new CopySources(fromContext, fromSnapshot, matched, downloads, heredocs);
        }
        catch
        {
            Delete(downloads);
            throw;
        }
    }

    private static bool IsUrl(string src) =>
        src.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || src.StartsWith("https://", StringComparison.OrdinalIgnoreCase);

    private static void Delete(IReadOnlyList<(string Url, string File)> downloads)
    {
        foreach (var (_, file) in downloads) File.Delete(file);
    }
}
