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

    /// <summary>Whether a context-relative path is hidden by .dockerignore.</summary>
    public bool IsExcluded(string relative) => relative.Length > 0 && Ignore.IsExcluded(relative);

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
    public async Task<Digest> DigestAsync(IEnumerable<string> relativePaths, CancellationToken ct)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var rel in relativePaths)
            await AddAsync(hash, rel, HostPath(rel), ct).ConfigureAwait(false);
        return Digest.FromSha256(hash.GetHashAndReset());
    }

    // Below a resolved directory every child is its host directory's child: the walk enters real directories only.
    private async Task AddAsync(IncrementalHash hash, string rel, string host, CancellationToken ct)
    {
        var st = Posix.TryLstat(host);
        if (st is not { } s) return;
        var line = new StringBuilder().Append(rel).Append('\0').Append(s.Mode).Append('\0');
        if (s.IsSymlink) line.Append(new FileInfo(host).LinkTarget);
        else if (s.IsRegular) line.Append((await _stats.DigestAsync(host, s, ct).ConfigureAwait(false)).ToString());
        line.Append('\n');
        hash.AppendData(Encoding.UTF8.GetBytes(line.ToString()));
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
            await AddAsync(hash, childRel, childHost, ct).ConfigureAwait(false);
        }
    }
}
