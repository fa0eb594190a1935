using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Img.Dockerfile;
using Img.Oci;

namespace Img.Build;

/// <summary>
/// The build context: a directory seen through its .dockerignore. Paths the ignore file excludes are invisible
/// before anything is read; content digests of what a step reads come through the <see cref="StatCache"/>.
/// </summary>
public sealed class BuildContext
{
    private readonly StatCache _stats;
    private readonly ConcurrentDictionary<string, bool> _holdsReincluded = new(StringComparer.Ordinal);

    /// <summary>A context over <paramref name="directory"/> with <paramref name="ignore"/> applied.</summary>
    public BuildContext(string directory, DockerIgnore ignore, StatCache stats)
    {
        Directory = Path.GetFullPath(directory);
        Ignore = ignore;
        _stats = stats;
    }

    /// <summary>The context directory.</summary>
    public string Directory { get; }

    /// <summary>The ignore rules.</summary>
    public DockerIgnore Ignore { get; }

    /// <summary>
    /// Whether a context-relative path is hidden by .dockerignore. An excluded directory stays visible when a <c>!</c>
    /// exception re-includes something below it: the context BuildKit receives holds the parent directories of every
    /// re-included path, so <c>COPY conf /conf/</c> works with <c>conf</c> and <c>!conf/keep.txt</c> (and copies keep.txt only).
    /// </summary>
    public bool IsExcluded(string relative) =>
        relative.Length > 0 && Ignore.IsExcluded(relative) && !(Ignore.Matcher.HasExclusions && HoldsReincluded(relative));

    private bool HoldsReincluded(string dir) =>
        _holdsReincluded.GetOrAdd(dir, d => Posix.TryLstat(HostPath(d)) is { IsDirectory: true } && AnyVisibleBelow(d));

    /// <summary>Whether anything below the excluded directory <paramref name="dir"/> is not excluded.</summary>
    private bool AnyVisibleBelow(string dir)
    {
        if (Ignore.CanSkipDir(dir)) return false;
        foreach (var entry in System.IO.Directory.EnumerateFileSystemEntries(HostPath(dir)))
        {
            var rel = dir + "/" + Path.GetFileName(entry);
            if (!Ignore.IsExcluded(rel)) return true;
            if (Posix.TryLstat(entry) is { IsDirectory: true } && HoldsReincluded(rel)) return true;
        }
        return false;
    }

    /// <summary>Context-relative paths matching a COPY/ADD source.</summary>
    public List<string> Match(string source) => SourcePattern.Match(Directory, source, IsExcluded);

    /// <summary>
    /// <paramref name="relative"/> with every symlink on the way (the last one too) resolved inside the context, as a
    /// context-relative path: a link to "/home/u" names "home/u" in the context, never the host's.
    /// </summary>
    public string Resolve(string relative)
    {
        var host = RootPath.Resolve(Directory, "/" + relative);
        return host.Length == Directory.Length ? "" : host[(Directory.Length + 1)..];
    }

    /// <summary>
    /// The host path of a context-relative path: links on the way resolve inside the context (as in BuildKit's copy of
    /// it), so <c>link/secret</c> with <c>link -> /home/u</c> is the context's <c>home/u/secret</c>; the last component
    /// is not followed.
    /// </summary>
    public string HostPath(string relative) => relative.Length == 0 ? Directory : RootPath.Resolve(Directory, "/" + relative, followFinal: false);

    /// <summary>
    /// A digest of exactly the files under <paramref name="relativePaths"/> that are not ignored: names, types, modes,
    /// link targets and contents. Changing any other context file leaves it unchanged.
    /// </summary>
    public Task<Digest> DigestAsync(IEnumerable<string> relativePaths, CancellationToken ct)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var lines = new DigestLines(hash, _stats, ct);
        foreach (var rel in relativePaths)
            Add(lines, rel, HostPath(rel), ct);
        lines.Flush();
        return Task.FromResult(Digest.FromSha256(hash.GetHashAndReset()));
    }

    // Below a resolved directory every child is its host directory's child: the walk enters real directories only.
    private void Add(DigestLines lines, string rel, string host, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var st = Posix.TryLstat(host);
        if (st is not { } s) return;
        lines.Add(rel, host, s);
        if (!s.IsDirectory) return;
        if (rel.Length > 0 && Ignore.CanSkipDir(rel)) return;
        var children = System.IO.Directory.EnumerateFileSystemEntries(host).Select(Path.GetFileName).ToList();
        children.Sort(StringComparer.Ordinal);
        foreach (var name in children)
        {
            var childRel = rel.Length == 0 ? name! : rel + "/" + name;
            // An excluded directory is still walked when a later `!pattern` may re-include something below it.
            var childHost = Path.Combine(host, name!);
            if (IsExcluded(childRel) && (!Ignore.Matcher.HasExclusions || Posix.TryLstat(childHost) is not { IsDirectory: true })) continue;
            Add(lines, childRel, childHost, ct);
        }
    }

    /// <summary>
    /// The lines of a context digest (path, mode, and a file's content digest or a link's target), hashed in walk
    /// order. Files are read and hashed on every core a batch at a time: a context of many small files is bound by
    /// open/read/close per file, not by the hash; a bounded batch keeps memory flat however many files there are.
    /// </summary>
    private sealed class DigestLines(IncrementalHash hash, StatCache stats, CancellationToken ct)
    {
        private const int BatchSize = 256;
        private readonly List<(string Rel, string Host, FileStat Stat)> _batch = new(BatchSize);
        private readonly string?[] _digests = new string?[BatchSize];

        public void Add(string rel, string host, FileStat stat)
        {
            _batch.Add((rel, host, stat));
            if (_batch.Count == BatchSize) Flush();
        }

        public void Flush()
        {
            if (_batch.Count == 0) return;
            var files = 0;
            foreach (var e in _batch) if (e.Stat.IsRegular) files++;
            var options = new ParallelOptions { CancellationToken = ct, MaxDegreeOfParallelism = files > 8 ? Environment.ProcessorCount : 1 };
            Parallel.For(0, _batch.Count, options, i =>
            {
                var (_, host, st) = _batch[i];
                _digests[i] = st.IsRegular ? stats.DigestAsync(host, st, ct).GetAwaiter().GetResult().ToString()
                    : st.IsSymlink ? new FileInfo(host).LinkTarget : null;
            });
            var line = new StringBuilder();
            for (var i = 0; i < _batch.Count; i++)
            {
                var (rel, _, st) = _batch[i];
                line.Clear().Append(rel).Append('\0').Append(st.Mode).Append('\0').Append(_digests[i]).Append('\n');
                hash.AppendData(Encoding.UTF8.GetBytes(line.ToString()));
                _digests[i] = null;
            }
            _batch.Clear();
        }
    }
}
