using Img.Fs;

namespace Img.Runtime.Oci;

/// <summary>
/// Mount points the runtime creates in the rootfs (an empty file for /etc/hosts in an image without one,
/// /run/secrets/x, …) would otherwise end up in the snapshot and the layer. This records which
/// components of each destination are missing before the run and removes them after, restoring the
/// times of the directory they were created in. The step may have replaced any of those directories with a
/// link by then (to "/", to the user's home): removal walks from the rootfs's descriptor without following a
/// single link, so a stub that is no longer where it was made is left alone.
/// </summary>
internal sealed class MountStubs
{
    private readonly string _root;
    private readonly List<string> _created = [];
    private readonly Dictionary<string, (long Sec, uint Nsec)> _parentTimes = [];

    public MountStubs(string rootfs, IEnumerable<string> destinations)
    {
        _root = Path.GetFullPath(rootfs);
        var rootFd = Native.OpenAt(Native.AT_FDCWD, _root, Native.O_PATH | Native.O_DIRECTORY);
        if (rootFd < 0) throw new NativeException("open directory", _root, -rootFd);
        try
        {
            foreach (var dest in destinations)
                Record(rootFd, dest.Split('/', StringSplitOptions.RemoveEmptyEntries));
        }
        finally { Native.Close(rootFd); }
    }

    private void Record(int rootFd, string[] parts)
    {
        var parent = "";
        var missing = false;
        foreach (var part in parts)
        {
            if (part is "." or "..") return;
            var rel = parent.Length == 0 ? part : parent + "/" + part;
            if (missing)
            {
                // Below a missing directory everything is the runtime's to create.
                if (!_created.Contains(rel)) _created.Add(rel);
                parent = rel;
                continue;
            }
            var dirFd = FileTree.OpenBeneath(rootFd, parent);
            if (dirFd < 0) return;
            try
            {
                var st = Native.StatAt(dirFd, part, rel);
                if (st is { IsDir: true }) { parent = rel; continue; }
                if (st is not null) return; // a file or a link: the runtime mounts onto it (a link is resolved in the rootfs)
                if (!_parentTimes.ContainsKey(parent) && Native.StatAt(dirFd, "", parent) is { } pst)
                    _parentTimes[parent] = (pst.MtimeSec, pst.MtimeNsec);
                if (!_created.Contains(rel)) _created.Add(rel);
                parent = rel;
                missing = true;
            }
            finally { Native.Close(dirFd); }
        }
    }

    /// <summary>Deletes the stubs (empty files and directories only), deepest first.</summary>
    public void Remove()
    {
        var rootFd = Native.OpenAt(Native.AT_FDCWD, _root, Native.O_PATH | Native.O_DIRECTORY);
        if (rootFd < 0) return;
        try
        {
            foreach (var rel in _created.OrderByDescending(p => p.Length))
                WithParent(rootFd, rel, (dirFd, name) =>
                {
                    switch (Native.StatAt(dirFd, name, rel))
                    {
                        case { IsRegular: true, Size: 0 }: Native.UnlinkAt(dirFd, name, dir: false); break;
                        case { IsDir: true }: Native.UnlinkAt(dirFd, name, dir: true); break; // ENOTEMPTY: the step put something there
                    }
                });
            foreach (var (rel, (sec, nsec)) in _parentTimes)
            {
                if (rel.Length == 0) Native.UtimesAt(Native.AT_FDCWD, _root, sec, nsec);
                else WithParent(rootFd, rel, (dirFd, name) => { if (Native.StatAt(dirFd, name, rel) is { IsDir: true }) Native.UtimesAt(dirFd, name, sec, nsec); });
            }
        }
        finally { Native.Close(rootFd); }
    }

    private static void WithParent(int rootFd, string rel, Action<int, string> act)
    {
        var slash = rel.LastIndexOf('/');
        var dirFd = FileTree.OpenBeneath(rootFd, slash < 0 ? "" : rel[..slash]);
        if (dirFd < 0) return;
        try { act(dirFd, rel[(slash + 1)..]); }
        finally { Native.Close(dirFd); }
    }
}
