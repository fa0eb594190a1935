using System.Formats.Tar;
using Img.Archive.Layers;
using Img.Oci;

namespace Img.Archive.Tests.Layers;

/// <summary>
/// Owners img records itself (no user namespace): a layer applied with <see cref="ApplyOptions.RecordOwners"/> and
/// written back with <see cref="WriteOptions.OwnersRecorded"/> carries the owners, modes and devices it came with,
/// whoever owns the files on disk; a RUN's chmod (the disk's mode changed) wins over the recorded mode.
/// </summary>
public class RecordedOwnerTests
{
    [Fact]
    public async Task AppliedOwnersComeBackInTheWrittenLayer()
    {
        using var tmp = new TempDir();
        var root = tmp.Sub("root");
        var layer = Layer(
            Entry(TarEntryType.Directory, "home/", 0, 0, 0b111_101_101),
            Entry(TarEntryType.Directory, "home/app/", 1000, 1000, 0b111_101_000),
            Entry(TarEntryType.RegularFile, "home/app/.profile", 1000, 1000, 0b110_000_000, "PS1=app\n"),
            Entry(TarEntryType.Directory, "etc/", 0, 0, 0b111_101_101),
            Entry(TarEntryType.RegularFile, "etc/shadow", 0, 42, 0b110_100_000, "root:*:1::::::\n"),
            Entry(TarEntryType.RegularFile, "etc/sux", 0, 0, 0b100_111_101_101, "#!/bin/sh\n"),
            Entry(TarEntryType.Directory, "ro/", 0, 0, 0b101_101_101),
            Entry(TarEntryType.SymbolicLink, "etc/link", 5, 6, 0b111_111_111, link: "shadow"),
            Entry(TarEntryType.Directory, "dev/", 0, 0, 0b111_101_101),
            Entry(TarEntryType.CharacterDevice, "dev/null", 0, 0, 0b110_110_110, major: 1, minor: 3));
        await LayerApplier.ApplyAsync(new MemoryStream(layer), root, new ApplyOptions { RecordOwners = true });

        // On disk: the applying user's files, writable by that user; the image's owners are in the records.
        Assert.True(Native.Lstat(Path.Combine(root, "dev/null"))!.Value.IsRegular);
        Assert.Equal(0b111_101_101u, Native.Lstat(Path.Combine(root, "ro"))!.Value.Permissions);
        Assert.Equal(new OwnerRecord(0, 42, Native.S_IFREG | 0b110_100_000), OwnerRecord.Read(Path.Combine(root, "etc/shadow")));

        File.SetUnixFileMode(Path.Combine(root, "home/app/.profile"), (UnixFileMode)0b110_100_100); // a RUN's chmod 0644
        var written = await Headers(root);
        Assert.Equal("1000:1000 750", written["home/app/"]);
        Assert.Equal("1000:1000 644", written["home/app/.profile"]);
        Assert.Equal("0:42 640", written["etc/shadow"]);
        Assert.Equal("0:0 4755", written["etc/sux"]);
        Assert.Equal("0:0 555", written["ro/"]);
        Assert.Equal("5:6 777", written["etc/link"]);
        Assert.Equal("0:0 666 char 1,3", written["dev/null"]);
    }

    [Fact]
    public void RecordsParseAndFormatAsContainersStorageDoes()
    {
        Assert.Equal("0:42:0100640", new OwnerRecord(0, 42, Native.S_IFREG | 0b110_100_000).ToString());
        Assert.Equal("0:0:020666:1:3", new OwnerRecord(0, 0, Native.S_IFCHR | 0b110_110_110, 1, 3).ToString());
        Assert.Equal(new OwnerRecord(1, 2, Native.S_IFDIR | 0b111_101_000), OwnerRecord.Parse("1:2:040750"u8));
        Assert.Null(OwnerRecord.Parse("1:2"u8));
        Assert.Null(OwnerRecord.Parse("a:2:0644"u8));
        Assert.Null(OwnerRecord.Parse("1:2:0999"u8));
    }

    private static async Task<Dictionary<string, string>> Headers(string root)
    {
        var tar = new MemoryStream();
        await LayerWriter.WriteTreeAsync(root, tar, Compression.None, new WriteOptions { OwnersRecorded = true });
        tar.Position = 0;
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        using var reader = new TarReader(tar);
        while (reader.GetNextEntry() is { } e)
        {
            var kind = e is PosixTarEntry { EntryType: TarEntryType.CharacterDevice } d ? $" char {d.DeviceMajor},{d.DeviceMinor}" : "";
            result[e.Name] = $"{e.Uid}:{e.Gid} {Convert.ToString((int)e.Mode, 8)}{kind}";
        }
        return result;
    }

    private static PaxTarEntry Entry(TarEntryType type, string name, int uid, int gid, int mode, string? content = null, string? link = null, int major = 0, int minor = 0)
    {
        var e = new PaxTarEntry(type, name) { Uid = uid, Gid = gid, Mode = (UnixFileMode)mode, ModificationTime = DateTimeOffset.FromUnixTimeSeconds(1_600_000_000) };
        if (content is not null) e.DataStream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(content));
        if (link is not null) e.LinkName = link;
        if (type == TarEntryType.CharacterDevice) { e.DeviceMajor = major; e.DeviceMinor = minor; }
        return e;
    }

    private static byte[] Layer(params PaxTarEntry[] entries)
    {
        var ms = new MemoryStream();
        using (var w = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
            foreach (var e in entries) w.WriteEntry(e);
        return ms.ToArray();
    }
}
