using System.Text;
using Img.Archive.Layers;
using Img.Build.Graph;
using Img.Content;
using Img.Dockerfile;
using Img.Runtime.Oci;

namespace Img.Build;

/// <summary>Where a copy writes: the cleaned destination, whether it is a directory, the mode and exclusions that apply.</summary>
internal sealed record CopyTarget(string Path, bool IsDirectory, ChmodSpec? Chmod, PatternMatcher? Excludes)
{
    /// <summary>The target of <paramref name="action"/>: a destination ending in <c>/</c> is a directory.</summary>
    public static CopyTarget Of(CopyAction action) => new(StepPaths.Clean(action.Destination),
        action.Destination.EndsWith('/'), action.Options.Chmod is { } chmod ? ChmodSpec.Parse(chmod) : null,
        action.Options.Exclude.Count > 0 ? new PatternMatcher(action.Options.Exclude) : null);
}

/// <summary>
/// Writes one copy action of a COPY/ADD into a step's mounted rootfs: context matches, another filesystem's files or a
/// download, owned as <c>--chown</c> says, with <c>--chmod</c>, <c>--exclude</c> and <c>--parents</c> applied; ADD
/// unpacks local archives.
/// </summary>
internal sealed class CopyWriter(BuildEnv env, CopyAction action, IResult source, StepReporter? reporter)
{
    private readonly CopyTarget target = CopyTarget.Of(action);

    private CopyActionOptions Options => action.Options;

    public async Task WriteAsync(string rootfs, CancellationToken ct)
    {
        var owner = Options.Chown is { } chown ? ChownSpec.Resolve(rootfs, FileOwnerText(chown)) : ((uint, uint)?)null;
        var options = new CopyOptions(owner, source is SnapshotResult, target.Chmod) { Warn = w => reporter?.Log("WARNING: " + w) };
        switch (source)
        {
            case ContextResult context:
                await CopyContextAsync(context.Context, rootfs, options, ct).ConfigureAwait(false);
                break;
            case SnapshotResult snapshot:
                await CopyFromSnapshotAsync(snapshot.Snapshot, rootfs, options, ct).ConfigureAwait(false);
                break;
            case DownloadResult download:
                var name = action.Source.TrimStart('/');
                var dest = target.IsDirectory ? DestDir(rootfs, target.Path, owner) + "/" + name : DestFile(rootfs, target.Path, owner);
                CopyDownloaded(download.File, dest, owner, target.Chmod);
                break;
        }
    }

    /// <summary>An owner as <c>--chown</c> writes it.</summary>
    public static string FileOwnerText(FileOwner owner) => owner.Group is null ? owner.User : owner.User + ":" + owner.Group;

    private async Task CopyContextAsync(BuildContext context, string rootfs, CopyOptions options, CancellationToken ct)
    {
        var pattern = action.Source;
        foreach (var rel in BuildEnv.Matches(context, pattern).Where(r => target.Excludes?.MatchesOrParentMatches(Path.GetFileName(r)) != true))
        {
            var notExcluded = NotExcludedBelow(rel, target.Excludes);
            var include = (string r) => !context.IsExcluded(r) && notExcluded(r);
            await CopyOneAsync(rootfs, context.HostPath(rel), rel, SourcePattern.ParentsPivot(pattern), options with { Include = include }, context, ct).ConfigureAwait(false);
        }
    }

    private Task CopyFromSnapshotAsync(string? snapshot, string rootfs, CopyOptions options, CancellationToken ct) =>
        env.Snapshots.WithViewAsync(snapshot, async srcRoot =>
        {
            var src = action.Source;
            var pattern = SourcePattern.Clean(src);
            var matches = SourcePattern.HasWildcard(pattern) ? SourcePattern.Match(srcRoot, pattern) : [pattern];
            foreach (var rel in matches.Where(r => target.Excludes?.MatchesOrParentMatches(Path.GetFileName(r)) != true))
            {
                var host = RootPath.Resolve(srcRoot, "/" + rel);
                if (Posix.TryLstat(host) is null)
                    throw new BuildFailedException($"failed to compute cache key: \"/{rel}\": not found");
                var include = NotExcludedBelow(rel, target.Excludes);
                await CopyOneAsync(rootfs, host, rel, SourcePattern.ParentsPivot(src), options with { Include = include }, null, ct).ConfigureAwait(false);
            }
            return true;
        }, ct);

    /// <summary>
    /// --exclude patterns match paths relative to the source being copied (BuildKit: <c>ADD --exclude=*.mp3 dir3/ /3/</c>
    /// leaves out dir3/file.mp3); <paramref name="source"/> is that source's path, a prefix of what the copier passes.
    /// </summary>
    private static Func<string, bool> NotExcludedBelow(string source, PatternMatcher? excludes) => excludes is null
        ? _ => true
        : r => !excludes.MatchesOrParentMatches(source.Length == 0 ? r : r.Length > source.Length ? r[(source.Length + 1)..] : "");

    /// <summary>
    /// Copies one match of a source. Several matches of a wildcard go one after another onto a destination without a
    /// trailing slash, as BuildKit does (a file destination ends up holding the last); <paramref name="pivot"/> is the
    /// part of a <c>--parents</c> source before <c>/./</c>, left out of the copied path.
    /// </summary>
    private async Task CopyOneAsync(string rootfs, string hostSource, string rel, string pivot, CopyOptions options, BuildContext? context, CancellationToken ct)
    {
        var st = Posix.Lstat(hostSource);
        if (context is not null && st.IsSymlink)
        {
            // A context source that is a symlink is followed (it must stay inside the context).
            var resolved = RootPath.Resolve(context.Directory, "/" + rel);
            if (Posix.TryLstat(resolved) is { } rs) { hostSource = resolved; st = rs; }
        }
        var dest = target.Path;
        var destIsDir = target.IsDirectory;
        if (Options.Parents)
        {
            var kept = pivot.Length > 0 && rel.StartsWith(pivot + "/", StringComparison.Ordinal) ? rel[(pivot.Length + 1)..] : rel;
            var parent = Path.GetDirectoryName(kept)?.Replace('\\', '/') ?? "";
            dest = StepPaths.Clean(target.Path + "/" + parent);
            destIsDir = true;
        }
        if (st.IsDirectory)
        {
            var dirTarget = Options.Parents ? StepPaths.Clean(dest + "/" + Path.GetFileName(rel)) : dest;
            FileCopier.Copy(hostSource, rel, DestDir(rootfs, dirTarget, options.Owner), options);
            return;
        }
        if (Options.AttemptUnpack && st.IsRegular && await IsArchiveAsync(hostSource, ct).ConfigureAwait(false))
        {
            await UnpackAsync(hostSource, rel, DestDir(rootfs, dest, options.Owner), options, ct).ConfigureAwait(false);
            return;
        }
        var existingDir = Posix.TryLstat(RootPath.Resolve(rootfs, dest)) is { IsDirectory: true };
        string file = destIsDir || existingDir
            ? DestDir(rootfs, dest, options.Owner) + "/" + Path.GetFileName(rel)
            : DestFile(rootfs, dest, options.Owner);
        FileCopier.Copy(hostSource, rel, file, options);
    }

    /// <summary>ADD of a local archive: its entries unpacked into <paramref name="dir"/>.</summary>
    private async Task UnpackAsync(string archive, string rel, string dir, CopyOptions options, CancellationToken ct)
    {
        var limits = env.Request.Limits;
        // Entries are resolved inside the rootfs and owned as they are created (--chown too), so nothing
        // walks the extracted tree afterwards by path. An owner this namespace cannot map is an error, not root.
        var unpack = new ApplyOptions
        {
            Owner = options.Owner,
            SkipUnmappedOwnership = false,
            RecordOwners = Img.Runtime.Namespaces.Isolation.Current.RecordsOwners,
            Warn = options.Warn,
            MaxTotalBytes = limits.MaxUnpackSize ?? long.MaxValue,
        };
        try { await LayerApplier.ApplyFileAsync(archive, dir, unpack, ct).ConfigureAwait(false); }
        catch (LayerSecurityException e) when (limits.MaxUnpackSize is not null)
        {
            throw new BuildFailedException($"ADD {rel}: {e.Message} ({InputLimits.MaxUnpackSizeVariable})", e);
        }
    }

    private static async Task<bool> IsArchiveAsync(string path, CancellationToken ct)
    {
        var head = new byte[512];
        int n;
        var fs = File.OpenRead(path);
        await using (fs.ConfigureAwait(false))
            n = await fs.ReadAtLeastAsync(head, head.Length, false, ct).ConfigureAwait(false);
        if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b) return true;
        if (n >= 4 && head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f && head[3] == 0xfd) return true;
        return n >= 262 && Encoding.ASCII.GetString(head, 257, 5) == "ustar";
    }

    private static string DestDir(string rootfs, string path, (uint, uint)? owner) => FileCopier.MakeDirectories(rootfs, path, owner);

    private static string DestFile(string rootfs, string path, (uint, uint)? owner)
    {
        var parent = Path.GetDirectoryName(path)?.Replace('\\', '/') ?? "/";
        var dir = FileCopier.MakeDirectories(rootfs, parent.Length == 0 ? "/" : parent, owner);
        return Path.Combine(dir, Path.GetFileName(path));
    }

    private static void CopyDownloaded(string file, string target, (uint, uint)? owner, ChmodSpec? chmod)
    {
        var existing = Posix.TryLstat(target);
        if (existing is { IsDirectory: true }) Img.Fs.FileTree.RemoveTree(target);
        else if (existing is not null) File.Delete(target);
        File.Copy(file, target);
        File.SetUnixFileMode(target, (UnixFileMode)(chmod?.Apply(0x180, false) ?? 0x180)); // 0600, as BuildKit's http source
        var (u, g) = owner ?? (0, 0);
        Posix.Lchown(target, u, g);
    }
}
