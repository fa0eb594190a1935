using Img.Archive.Layers;
using Img.Build;
using Img.Dockerfile;

namespace Img.Build.Tests;

/// <summary>
/// COPY's file copier on real directories: owner, mode (set-id bits too) and mtime set through the new file's
/// descriptor, a fresh destination written without looking entries up first, an existing one replaced entry by
/// entry, and a copy between two filesystems that stops asking for reflinks after the kernel refused the first.
/// </summary>
public sealed class FileCopierTests : IDisposable
{
    private readonly string _src = Directory.CreateTempSubdirectory("img-copier-src-").FullName;
    private readonly string _dst = Directory.CreateTempSubdirectory("img-copier-dst-").FullName;

    public void Dispose()
    {
        Directory.Delete(_src, true);
        Directory.Delete(_dst, true);
    }

    private string Write(string root, string rel, string text, UnixFileMode mode)
    {
        var p = Path.Combine(root, rel);
        Directory.CreateDirectory(Path.GetDirectoryName(p)!);
        File.WriteAllText(p, text);
        File.SetUnixFileMode(p, mode);
        return p;
    }

    private static (uint Uid, uint Gid, uint Mode, long MtimeNs) Stat(string path)
    {
        var st = Img.Fs.Native.Lstat(path) ?? throw new FileNotFoundException(path);
        return (st.Uid, st.Gid, st.Permissions, st.MtimeSec * 1_000_000_000 + st.MtimeNsec);
    }

    [Fact]
    public void CopiedFilesGetOwnerModeAndMillisecondMtimeIntoAFreshAndAnExistingTree()
    {
        const UnixFileMode setuidExec = UnixFileMode.SetUser | UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
        var tool = Write(_src, "bin/tool", "#!/bin/sh\n", setuidExec);
        File.SetLastWriteTimeUtc(tool, new DateTime(2020, 1, 2, 3, 4, 5, 678, DateTimeKind.Utc).AddTicks(9999));
        Write(_src, "etc/conf", "new conf\n", (UnixFileMode)0b110_100_000);
        Write(_src, "empty", "", (UnixFileMode)0b110_100_100);
        var options = new CopyOptions((1234u, 2345u), false, null);

        var fresh = Path.Combine(_dst, "fresh");
        FileCopier.Copy(_src, "", fresh, options);
        // An existing tree: a file and a directory stand where the copy puts a file and a directory.
        var existing = Path.Combine(_dst, "existing");
        Write(existing, "etc/conf", "old conf that is longer than the new one\n", (UnixFileMode)0b111_111_111);
        Directory.CreateDirectory(Path.Combine(existing, "empty/inner"));
        FileCopier.Copy(_src, "", existing, options);

        foreach (var root in new[] { fresh, existing })
        {
            Assert.Equal("#!/bin/sh\n", File.ReadAllText(Path.Combine(root, "bin/tool")));
            Assert.Equal("new conf\n", File.ReadAllText(Path.Combine(root, "etc/conf")));
            Assert.True(File.Exists(Path.Combine(root, "empty")), $"{root}/empty is a file again");
            var (uid, gid, mode, mtime) = Stat(Path.Combine(root, "bin/tool"));
            Assert.Equal((uint)setuidExec, mode); // the set-uid bit survives the chown before it
            Assert.Equal(new DateTimeOffset(2020, 1, 2, 3, 4, 5, 678, TimeSpan.Zero).ToUnixTimeMilliseconds() * 1_000_000, mtime);
            Assert.Equal(0b110_100_000u, Stat(Path.Combine(root, "etc/conf")).Mode);
            Assert.Equal(0b110_100_100u, Stat(Path.Combine(root, "empty")).Mode);
            Assert.Equal((1234u, 2345u), (uid, gid));
        }
    }

    [Fact]
    public void ACopyBetweenTwoFilesystemsStopsAskingForReflinksAndStillCopiesEveryByte()
    {
        // /dev/shm is tmpfs: neither a reflink nor (on this kernel) copy_file_range crosses into the temp dir's filesystem.
        var shm = "/dev/shm";
        static (uint, uint)? Device(string p) => Img.Fs.Native.Lstat(p) is { } st ? (st.DevMajor, st.DevMinor) : null;
        if (!Directory.Exists(shm) || Device(shm) == Device(_dst))
            Assert.Fail($"needs {shm} on another filesystem than {_dst}; this machine has none");
        var other = Path.Combine(shm, "img-copier-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(other);
        try
        {
            var big = new byte[3 << 20]; // more than the 1 MiB copy buffer
            new Random(7).NextBytes(big);
            File.WriteAllBytes(Path.Combine(other, "big"), big);
            File.WriteAllText(Path.Combine(other, "small"), "small\n");
            var route = new CopyRoute();
            var how = FileContents.Copy(Path.Combine(other, "big"), Path.Combine(_dst, "big"), big.Length, route,
                new FileMetadata(0b110_100_100, 1_600_000_000_123_000_000) { Owner = (0, 0) });
            Assert.False(route.Reflink);
            Assert.Equal(big, File.ReadAllBytes(Path.Combine(_dst, "big")));
            Assert.NotEqual(FileContents.How.Reflink, how);
            Assert.Equal(0b110_100_100u, Stat(Path.Combine(_dst, "big")).Mode);
            Assert.Equal(1_600_000_000_123_000_000, Stat(Path.Combine(_dst, "big")).MtimeNs);
            // The route carries what the first file learned; the next file is copied the same way.
            Assert.Equal(how, FileContents.Copy(Path.Combine(other, "small"), Path.Combine(_dst, "small"), 6, route));
            Assert.Equal("small\n", File.ReadAllText(Path.Combine(_dst, "small")));
            Assert.ThrowsAny<IOException>(() => FileContents.Copy(Path.Combine(other, "small"), Path.Combine(_dst, "small"), 6, route));
        }
        finally
        {
            Directory.Delete(other, true);
        }
    }
}
