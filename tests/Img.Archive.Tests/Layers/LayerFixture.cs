using System.Security.Cryptography;
using System.Text;
using Img.Archive.Layers;
using Img.Oci;
using Img.TestSupport;

namespace Img.Archive.Tests.Layers;

/// <summary>A temp dir for one test, removed afterwards, with helpers to build and describe trees.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "img-layers-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Sub(string name)
    {
        var p = System.IO.Path.Combine(Path, name);
        Directory.CreateDirectory(p);
        return p;
    }

    public void Dispose()
    {
        // Restore write permission first so read-only directories from a test do not block removal.
        _ = ProcessRunner.RunAsync("chmod", ["-R", "u+rwx", Path]).GetAwaiter().GetResult();
        _ = ProcessRunner.RunAsync("rm", ["-rf", Path]).GetAwaiter().GetResult();
    }
}

internal static class Tree
{
    public static readonly bool IsRoot = TestUser.RunningAsRoot;

    public static string Write(string root, string rel, string content, int mode = 0b110_100_100, long mtime = 1_600_000_000)
    {
        var p = Path.Combine(root, rel);
        Directory.CreateDirectory(Path.GetDirectoryName(p)!);
        System.IO.File.WriteAllText(p, content);
        System.IO.File.SetUnixFileMode(p, (UnixFileMode)mode);
        SetMtime(p, mtime);
        return p;
    }

    public static void SetMtime(string path, long sec, uint nsec = 0) =>
        Assert.Equal(0, Native.UtimesAt(Native.AT_FDCWD, path, sec, nsec));

    public static void SetXattr(string path, string name, byte[] value) =>
        Assert.Equal(0, Native.SetXattr(path, name, value));

    public static async Task Run(string file, params string[] args) =>
        (await ProcessRunner.RunAsync(file, args)).EnsureSuccess(file + " " + string.Join(' ', args));

    /// <summary>
    /// A canonical description of a tree: one line per path with type, mode, owner, size, mtime, link target,
    /// xattrs, content hash and a hard-link group. Two trees are "identical" when their descriptions are.
    /// </summary>
    public static string Describe(string root, bool withDirMtimes = true, bool withNsec = false)
    {
        var sb = new StringBuilder();
        var inodes = new Dictionary<ulong, string>();
        void Walk(string dir, string rel)
        {
            foreach (var name in FileEntryWriter.ListSorted(dir))
            {
                var full = Path.Combine(dir, name);
                var r = rel.Length == 0 ? name : rel + "/" + name;
                var st = Native.Lstat(full)!.Value;
                sb.Append(r).Append(' ').Append(Convert.ToString(st.Mode, 8)).Append(' ').Append(st.Uid).Append(':').Append(st.Gid);
                if (!st.IsDir || withDirMtimes) sb.Append(" t=").Append(st.MtimeSec).Append(withNsec ? "." + st.MtimeNsec : "");
                if (st.IsRegular)
                {
                    sb.Append(" size=").Append(st.Size).Append(" sha=").Append(Convert.ToHexString(SHA256.HashData(System.IO.File.ReadAllBytes(full)))[..16]);
                    if (st.Nlink > 1)
                    {
                        if (!inodes.TryGetValue(st.Ino, out var first)) inodes[st.Ino] = first = r;
                        sb.Append(" link=").Append(first);
                    }
                }
                if (st.IsSymlink) sb.Append(" -> ").Append(Native.ReadLinkAt(Native.AT_FDCWD, full, full));
                if (st.Type is Native.S_IFCHR or Native.S_IFBLK) sb.Append(" dev=").Append(st.RdevMajor).Append(',').Append(st.RdevMinor);
                foreach (var x in Native.ListXattrs(full))
                    if (!x.StartsWith("security.selinux", StringComparison.Ordinal))
                        sb.Append(' ').Append(x).Append('=').Append(Convert.ToHexString(Native.GetXattr(full, x) ?? []));
                sb.Append('\n');
                if (st.IsDir) Walk(full, r);
            }
        }
        Walk(root, "");
        return sb.ToString();
    }

    /// <summary>The entries of a layer blob (compressed or not), as "KIND name" lines, plus their headers.</summary>
    public static async Task<List<TarHeader>> ReadEntries(byte[] blob)
    {
        await using var tar = await LayerCompression.OpenDecompressingAsync(new MemoryStream(blob));
        var reader = new TarStreamReader(tar);
        var list = new List<TarHeader>();
        while (await reader.NextAsync() is { } h) list.Add(h);
        return list;
    }

    public static async Task<(LayerWriteResult Result, byte[] Blob)> WriteLayer(ILayerSource source, Compression compression = Compression.None)
    {
        var ms = new MemoryStream();
        var result = await LayerWriter.WriteLayerAsync(source, ms, compression);
        return (result, ms.ToArray());
    }

    /// <summary>A layer tar built entry by entry (names are written as given, hostile ones included).</summary>
    public static async Task<byte[]> BuildTar(params (TarHeader Header, string? Content)[] entries)
    {
        var ms = new MemoryStream();
        var w = new TarStreamWriter(ms);
        foreach (var (h, content) in entries)
        {
            var bytes = content is null ? null : Encoding.UTF8.GetBytes(content);
            if (bytes is not null) h.Size = bytes.Length;
            await w.WriteEntryAsync(h, bytes is null ? null : new MemoryStream(bytes));
        }
        await w.CloseAsync();
        return ms.ToArray();
    }

    public static (TarHeader, string?) File(string name, string content, uint mode = 0b110_100_100) =>
        (new TarHeader { Name = name, Kind = TarEntryKind.File, Mode = mode, MtimeSec = 1_600_000_000 }, content);

    public static (TarHeader, string?) Dir(string name, uint mode = 0b111_101_101) =>
        (new TarHeader { Name = name, Kind = TarEntryKind.Directory, Mode = mode, MtimeSec = 1_600_000_000 }, null);

    public static (TarHeader, string?) Symlink(string name, string target) =>
        (new TarHeader { Name = name, Kind = TarEntryKind.Symlink, Mode = 0b111_111_111, LinkName = target, MtimeSec = 1_600_000_000 }, null);

    public static (TarHeader, string?) HardLink(string name, string target) =>
        (new TarHeader { Name = name, Kind = TarEntryKind.HardLink, LinkName = target, MtimeSec = 1_600_000_000 }, null);

    public static Task<ApplyResult> Apply(byte[] layer, string root, ApplyOptions? options = null) =>
        LayerApplier.ApplyAsync(new MemoryStream(layer), root, options);

    public static Digest Sha(byte[] data) => Digest.Compute(data);
}
