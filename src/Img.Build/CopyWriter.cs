using System.Text;
using Img.Archive.Layers;
using Img.Content;
using Img.Dockerfile;
using Img.Runtime.Oci;

namespace Img.Build;

/// <summary>
/// Writes a COPY/ADD into a step's mounted rootfs: context matches, a stage's files, downloads and heredocs, owned as
/// <c>--chown</c> says, with <c>--chmod</c>, <c>--exclude</c> and <c>--parents</c> applied; ADD unpacks local archives.
/// </summary>
internal sealed class CopyWriter(StepInputs step, CopyRequest req, CopyTarget target, CopySources sources)
{
    private BuildContext Context => step.Solver.Context;

    public async Task WriteAsync(string rootfs, StepReporter reporter, CancellationToken ct)
    {
        var owner = req.Chown is null ? ((uint, uint)?)null : ChownSpec.Resolve(rootfs, req.Chown);
        var options = new CopyOptions(owner, !sources.FromContext, target.Chmod) { Warn = w => reporter.Log("WARNING: " + w) };
        if (sources.FromContext) await CopyContextAsync(rootfs, options, ct).ConfigureAwait(false);
        else await CopyFromSnapshotAsync(rootfs, options, ct).ConfigureAwait(false);
        foreach (var (url, file) in sources.Downloads)
        {
            var name = Path.GetFileName(new Uri(url).AbsolutePath);
            if (name.Length == 0) name = "index.html";
            var dest = target.IsDirectory ? DestDir(rootfs, target.Path, owner) + "/" + name : DestFile(rootfs, target.Path, owner);
            CopyDownloaded(file, dest, owner, target.Chmod);
        }
        foreach (var (path, data) in sources.Heredocs)
        {
            var dest = target.IsDirectory ? DestDir(rootfs, target.Path, owner) + "/" + path : DestFile(rootfs, target.Path, owner);
            var exists = Posix.TryLstat(dest);
            if (exists is not null && !exists.Value.IsDirectory) File.Delete(dest);
            await File.WriteAllTextAsync(dest, data, new UTF8Encoding(false), ct).ConfigureAwait(false);
            File.SetUnixFileMode(dest, (UnixFileMode)(target.Chmod?.Apply(0x1A4, false) ?? 0x1A4));
            var (u, g) = owner ?? (0, 0);
            Posix.Lchown(dest, u, g);
        }
    }

    private async Task CopyContextAsync(string rootfs, CopyOptions options, CancellationToken ct)
    {
        foreach (var (pattern, matches) in sources.Context)
        {
            foreach (var rel in matches.Where(r => target.Excludes?.MatchesOrParentMatches(Path.GetFileName(r)) != true))
            {
                var notExcluded = NotExcludedBelow(rel, target.Excludes);
                var include = (string r) => !Context.IsExcluded(r) && notExcluded(r);
                await CopyOneAsync(rootfs, Context.HostPath(rel), rel, SourcePattern.ParentsPivot(pattern), options with { Include = include }, true, ct).ConfigureAwait(false);
            }
        }
    }

    private Task CopyFromSnapshotAsync(string rootfs, CopyOptions options, CancellationToken ct) =>
        step.Solver.Snapshots.WithViewAsync(sources.FromSnapshot, async srcRoot =>
        {
            foreach (var src in req.Files.SourcePaths)
            {
                var pattern = SourcePattern.Clean(src);
                var matches = SourcePattern.HasWildcard(pattern) ? SourcePattern.Match(srcRoot, pattern) : [pattern];
                foreach (var rel in matches.Where(r => target.Excludes?.MatchesOrParentMatches(Path.GetFileName(r)) != true))
                {
                    var host = RootPath.Resolve(srcRoot, "/" + rel);
                    if (Posix.TryLstat(host) is null)
                        throw new BuildFailedException($"failed to compute cache key: \"/{rel}\": not found");
                    var include = NotExcludedBelow(rel, target.Excludes);
                    await CopyOneAsync(rootfs, host, rel, SourcePattern.ParentsPivot(src), options with { Include = include }, false, ct).ConfigureAwait(false);
                }
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
    private async Task CopyOneAsync(string rootfs, string hostSource, string rel, string pivot, CopyOptions options, bool followTop, CancellationToken ct)
    {
        var st = Posix.Lstat(hostSource);
        if (followTop && st.IsSymlink)
        {
            // A context source that is a symlink is followed (it must stay inside the context).
            var resolved = RootPath.Resolve(Context.Directory, "/" + rel);
            if (Posix.TryLstat(resolved) is { } rs) { hostSource = resolved; st = rs; }
        }
        var dest = target.Path;
        var destIsDir = target.IsDirectory;
        if (req.Parents)
        {
            var kept = pivot.Length > 0 && rel.StartsWith(pivot + "/", StringComparison.Ordinal) ? rel[(pivot.Length + 1)..] : rel;
            var parent = Path.GetDirectoryName(kept)?.Replace('\\', '/') ?? "";
            dest = StepPaths.Clean(target.Path + "/" + parent);
            destIsDir = true;
        }
        if (st.IsDirectory)
        {
            var dirTarget = req.Parents ? StepPaths.Clean(dest + "/" + Path.GetFileName(rel)) : dest;
            FileCopier.Copy(hostSource, rel, DestDir(rootfs, dirTarget, options.Owner), options);
            return;
        }
        if (req.IsAdd && req.Unpack != false && st.IsRegular && await IsArchiveAsync(hostSource, ct).ConfigureAwait(false))
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
        var limits = step.Solver.Request.Limits;
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
