namespace Img.Runtime.Oci;

/// <summary>
/// Mount points the runtime creates in the rootfs (an empty file for /etc/hosts in an image without one,
/// /run/secrets/x, …) would otherwise end up in the snapshot and the layer. This records which
/// components of each destination are missing before the run and removes them after, restoring the
/// times of the directory they were created in.
/// </summary>
internal sealed class MountStubs
{
    private readonly List<string> _created = [];
    private readonly Dictionary<string, (DateTime Access, DateTime Write)> _parentTimes = [];

    public MountStubs(string rootfs, IEnumerable<string> destinations)
    {
        var root = Path.GetFullPath(rootfs);
        foreach (var dest in destinations)
        {
            var parts = dest.Split('/', StringSplitOptions.RemoveEmptyEntries);
            var current = root;
            foreach (var part in parts)
            {
                if (part == "..") break;
                var next = Path.Combine(current, part);
                var info = new FileInfo(next);
                if (info.Exists || Directory.Exists(next) || info.LinkTarget is not null)
                {
                    // Never walk through a symlink: it may point outside the rootfs.
                    if (info.LinkTarget is not null) break;
                    current = next;
                    continue;
                }
                if (!_parentTimes.ContainsKey(current) && Directory.Exists(current))
                    _parentTimes[current] = (Directory.GetLastAccessTimeUtc(current), Directory.GetLastWriteTimeUtc(current));
                if (!_created.Contains(next)) _created.Add(next);
                current = next;
            }
        }
    }

    /// <summary>Deletes the stubs (empty files and directories only), deepest first.</summary>
    public void Remove()
    {
        foreach (var path in _created.OrderByDescending(p => p.Length))
        {
            var file = new FileInfo(path);
            if (file.LinkTarget is not null) continue;
            try
            {
                if (file.Exists && file.Length == 0) file.Delete();
                else if (Directory.Exists(path) && !Directory.EnumerateFileSystemEntries(path).Any()) Directory.Delete(path);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        foreach (var (dir, times) in _parentTimes)
        {
            try
            {
                if (!Directory.Exists(dir)) continue;
                Directory.SetLastWriteTimeUtc(dir, times.Write);
                Directory.SetLastAccessTimeUtc(dir, times.Access);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }
}
