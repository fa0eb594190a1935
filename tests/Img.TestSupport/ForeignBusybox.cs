namespace Img.TestSupport;

/// <summary>
/// Static busybox binaries of other architectures, fetched once per machine by tools/setup-machine.sh (Debian's
/// busybox-static for that architecture) into <see cref="DebianRootfs.CacheDir"/>: the material of multi-platform
/// builds made offline. The host's own is <c>/bin/busybox</c>.
/// </summary>
public static class ForeignBusybox
{
    /// <summary>The binary for GOARCH-style <paramref name="architecture"/> (<c>arm64</c>); the host's for <c>amd64</c> on amd64.</summary>
    public static string PathFor(string architecture)
    {
        if (architecture == Oci.Platform.Host.Architecture) return "/bin/busybox";
        var path = Path.Combine(DebianRootfs.CacheDir, "busybox-" + architecture);
        if (!File.Exists(path))
            throw new InvalidOperationException($"{path} is missing: as root, run `bash tools/setup-machine.sh` (it fetches busybox-static:{architecture} from the Debian mirror)");
        return path;
    }
}
