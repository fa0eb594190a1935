namespace Img.TestSupport;

/// <summary>
/// A minimal Debian bookworm root made by debootstrap from the mirror the machine's apt uses, kept as a
/// tarball under <see cref="CacheDir"/> so it is made once per machine (tests and CI reuse it). debootstrap
/// needs root: as an ordinary user a missing cache is an error that says how to make it.
/// </summary>
public static class DebianRootfs
{
    /// <summary>Where the tarball lives between test runs.</summary>
    public const string CacheDir = "/var/tmp/img-test-cache";

    /// <summary>The Debian mirror (the one /etc/apt/sources.list.d/debian.sources names).</summary>
    public const string Mirror = "http://deb.debian.org/debian";

    /// <summary>The cached tarball: numeric owners, paths relative to the root.</summary>
    public static string TarballPath => Path.Combine(CacheDir, "debian-bookworm-minbase.tar");

    private static readonly SemaphoreSlim Gate = new(1, 1);

    /// <summary>The tarball's path, made with debootstrap first when it is missing (root only).</summary>
    public static async Task<string> TarballAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (File.Exists(TarballPath)) return TarballPath;
            if (!TestUser.RunningAsRoot)
                throw new InvalidOperationException(
                    $"{TarballPath} is missing and making it needs root (debootstrap): as root, run " +
                    "`bash tools/setup-machine.sh && dotnet test tests/Img.IntegrationTests --filter FullyQualifiedName~Debian` once; " +
                    "later runs as any user reuse the tarball");
            await CreateAsync();
            return TarballPath;
        }
        finally
        {
            Gate.Release();
        }
    }

    private static async Task CreateAsync()
    {
        Directory.CreateDirectory(CacheDir);
        File.SetUnixFileMode(CacheDir, (UnixFileMode)0b111_101_101);
        var root = Path.Combine(CacheDir, $"debootstrap-{Environment.ProcessId}");
        if (Directory.Exists(root)) await RemoveAsync(root);
        try
        {
            (await ProcessRunner.RunAsync("debootstrap", ["--variant=minbase", "bookworm", root, Mirror], timeout: TimeSpan.FromMinutes(20)))
                .EnsureSuccess("debootstrap --variant=minbase bookworm");
            // The package lists are stale the moment they are written; images run apt-get update.
            foreach (var f in Directory.EnumerateFiles(Path.Combine(root, "var/cache/apt/archives"), "*.deb"))
                File.Delete(f);
            var tmp = TarballPath + $".tmp-{Environment.ProcessId}";
            (await ProcessRunner.RunAsync("tar", ["--numeric-owner", "--xattrs", "-C", root, "-cf", tmp, "."], timeout: TimeSpan.FromMinutes(5)))
                .EnsureSuccess("tar");
            File.SetUnixFileMode(tmp, (UnixFileMode)0b110_100_100);
            File.Move(tmp, TarballPath, overwrite: true);
        }
        finally
        {
            await RemoveAsync(root);
        }
    }

    private static async Task RemoveAsync(string dir) =>
        (await ProcessRunner.RunAsync("rm", ["-rf", "--one-file-system", dir])).EnsureSuccess("rm -rf " + dir);
}
