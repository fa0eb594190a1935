using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Img.TestSupport;

namespace Img.Build.Tests.EndToEnd;

/// <summary>
/// The same Dockerfiles built by img and by buildah (rootless, as the test user: vfs storage, chroot isolation,
/// on the same busybox base image) give the same final filesystem and the same runtime config.
/// </summary>
[Collection("img build")]
public sealed class BuildahParityTests(ImgBuildFixture img)
{
    // Workdirs: directories WORKDIR makes that buildah leaves out; ChownedArchive: where ADD --chown=2:2 unpacks (see Compare).
    private static readonly (string Name, string Dockerfile, (string, string)[] Files, string[] Workdirs, string? ChownedArchive)[] Cases =
    [
        ("multi-stage", """
            FROM base AS builder
            RUN mkdir -p /out/sub && echo one > /out/one && echo two > /out/sub/two && ln -s one /out/link && chmod 750 /out/sub && chown 2:2 /out/sub/two
            FROM base
            COPY --from=builder /out /app/
            COPY --from=builder --chown=2:2 /out/one /owned/one
            RUN cat /app/one /app/sub/two > /joined
            """, [], [], null),
        ("config", """
            FROM base
            ENV A=1 B="two words"
            USER daemon
            WORKDIR /srv/app
            LABEL a=b c="d e"
            EXPOSE 80 53/udp
            VOLUME /data
            STOPSIGNAL SIGINT
            ENTRYPOINT ["/bin/sh", "-c"]
            CMD ["echo hi"]
            """, [], ["srv", "srv/app"], null),
        ("run-changes", """
            FROM base
            RUN mkdir /d && echo x > /d/f && echo y > /d/g && chown -R 2:2 /d && chmod 4755 /d/f && rm /base-file && ln -s /d/f /lnk
            RUN rm -r /d && mkdir /d && echo z > /d/h && chmod 700 /d && rm /lnk
            """, [], [], null),
        ("copy-chown-chmod", """
            FROM base
            COPY --chown=daemon:daemon --chmod=640 a.txt /files/
            COPY --chmod=755 dir/ /files/dir/
            COPY --chown=2 dir /files/dir2
            COPY a.txt rel.txt
            """, [("a.txt", "a\n"), ("dir/b.txt", "b\n"), ("dir/sub/c.txt", "c\n")], [], null),
        ("args-and-shell-form", """
            FROM base
            ARG V=3
            ENV V=$V
            RUN echo $V > /v && mkdir -p /usr/local/share && echo shared > /usr/local/share/s
            CMD echo $V
            """, [], [], null),
        // packed.tar is made from the context's packed/ directory before the builds.
        ("add-archive-chown", """
            FROM base
            RUN mkdir -p /dest/packed && echo old > /dest/existing && echo kept > /dest/packed/kept
            ADD --chown=2:2 packed.tar /dest/
            ADD packed.tar /plain/
            """, [("packed/x.txt", "x\n"), ("packed/sub/y.txt", "y\n")], [], "dest/packed"),
    ];

    [Fact]
    public async Task ImgAndBuildahBuildTheSameImages()
    {
        var work = img.TempDir("img-buildah");
        var storage = new[] { "--root", Path.Combine(work, "root"), "--runroot", Path.Combine(work, "runroot"), "--storage-driver", "vfs" };
        var env = new Dictionary<string, string?> { ["BUILDAH_ISOLATION"] = "chroot", ["XDG_RUNTIME_DIR"] = "", ["XDG_CONFIG_HOME"] = Path.Combine(work, "config") };
        async Task<ProcessResult> Buildah(string cwd, params string[] args)
        {
            var (file, wrapped) = TestUser.Wrap("buildah", [.. storage, .. args], env);
            return await ProcessRunner.RunAsync(file, wrapped, workingDirectory: cwd, timeout: TimeSpan.FromMinutes(3));
        }
        static void Ensure(ProcessResult r, string what) =>
            Assert.True(r.ExitCode == 0, $"{what} failed with exit code {r.ExitCode}:\n{r.Stdout}\n{r.Stderr}");

        // buildah gets img's own busybox base, through a docker archive.
        var baseTar = Path.Combine(work, "base.tar");
        Ensure(await img.ImgAsync(work, null, ["save", "-o", baseTar, "base"]), "img save base");
        Ensure(await Buildah(work, "pull", "docker-archive:" + baseTar), "buildah pull of img's base (rootless, vfs)");

        var differences = new List<string>();
        try
        {
            foreach (var (name, dockerfile, files, workdirs, chownedArchive) in Cases)
            {
                var ctx = img.NewContext(dockerfile, files);
                if (files.Any(f => f.Item1.StartsWith("packed/", StringComparison.Ordinal)))
                    Ensure(await ProcessRunner.RunAsync("tar", ["--owner=5", "--group=6", "-cf", Path.Combine(ctx, "packed.tar"), "-C", ctx, "packed"]), "tar");
                var imgTar = Path.Combine(ctx, "img.tar");
                var bhTar = Path.Combine(ctx, "buildah.tar");
                Ensure(await img.BuildAsync(ctx, "--no-console", "-o", "type=oci,dest=" + imgTar, "."), $"img build {name}");
                Ensure(await Buildah(ctx, "bud", "--layers", "--pull=false", "--isolation", "chroot", "-t", "parity-" + name, "."), $"buildah bud {name}");
                Ensure(await Buildah(ctx, "push", "parity-" + name, "oci-archive:" + bhTar), $"buildah push {name}");
                var mine = OciArchiveImage.Read(imgTar);
                var theirs = OciArchiveImage.Read(bhTar);
                Assert.Contains("bin/busybox", mine.Files.Keys);
                if (name == "run-changes") Assert.DoesNotContain("base-file", mine.Files.Keys); // the whiteout was applied
                differences.AddRange(Compare(mine, theirs, workdirs, chownedArchive).Select(d => $"[{name}] {d}"));
            }
        }
        finally
        {
            // buildah's storage holds files of subordinate ids the fixture could not delete when not root.
            await Buildah(work, "rmi", "--all", "--force");
        }
        Assert.True(differences.Count == 0, "img and buildah differ:\n" + string.Join('\n', differences));
    }

    // buildah (chroot isolation) creates the mount points of a RUN in the rootfs and commits them as empty files and
    // directories; BuildKit, and img, remove the stubs they made. Only these paths, only empty, only absent in img's.
    private static readonly HashSet<string> BuildahRunStubs = ["dev", "proc", "sys", "run", "etc/hostname", "etc/hosts", "etc/resolv.conf"];
    private const string EmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    private static IEnumerable<string> Compare(OciArchiveImage mine, OciArchiveImage theirs, string[] workdirs, string? chownedArchive)
    {
        foreach (var path in mine.Files.Keys.Union(theirs.Files.Keys).Order(StringComparer.Ordinal))
        {
            mine.Files.TryGetValue(path, out var a);
            theirs.Files.TryGetValue(path, out var b);
            if (a is null && b is not null && BuildahRunStubs.Contains(path)
                && (b.Type == 'f' && b.Sha256 == EmptySha256 || b.Type == 'd' && !theirs.Files.Keys.Any(k => k.StartsWith(path + "/", StringComparison.Ordinal))))
                continue;
            // WORKDIR: BuildKit (so img) creates the directory at once, owned by USER; buildah creates it only when a
            // later RUN/COPY needs it. The Dockerfile's own directories, listed per case, are absent from buildah's.
            if (b is null && a is { Type: 'd' } && workdirs.Contains(path)) continue;
            // ADD --chown of a local archive: current BuildKit (so img) gives the extracted entries the --chown owner;
            // buildah 1.28, like BuildKit before applyRootArchive, keeps the archive's. Only the owner is let go.
            if (chownedArchive is not null && (path == chownedArchive || path.StartsWith(chownedArchive + "/", StringComparison.Ordinal))
                && a is { Uid: 2, Gid: 2 } && b is not null && a with { Uid = b.Uid, Gid = b.Gid } == b) continue;
            if (a != b) yield return $"/{path}: img {a?.ToString() ?? "absent"}, buildah {b?.ToString() ?? "absent"}";
        }
        foreach (var field in ConfigFields)
        {
            var a = mine.ConfigField(field);
            var b = theirs.ConfigField(field);
            if (a != b) yield return $"config {field}: img {a}, buildah {b}";
        }
    }

    // The runtime config a container sees. Not compared: timestamps (created, history), history text and
    // comments, and rootfs diff_ids (layer tars differ in entry order and mtimes; their applied content is compared).
    private static readonly string[] ConfigFields = ["Env", "Cmd", "Entrypoint", "WorkingDir", "User", "Labels", "ExposedPorts", "Volumes", "StopSignal"];
}

/// <summary>One file of an image's final filesystem: type, permission bits, owner, link target, content hash.</summary>
internal sealed record FileEntry(char Type, int Mode, int Uid, int Gid, string Link, string Sha256)
{
    public override string ToString() => $"{Type} {Convert.ToString(Mode, 8)} {Uid}:{Gid}{(Link.Length > 0 ? " -> " + Link : "")}{(Sha256.Length > 0 ? " " + Sha256[..12] : "")}";
}

/// <summary>An image read from an OCI archive (the first manifest of index.json), its layers applied in memory.</summary>
internal sealed class OciArchiveImage
{
    public Dictionary<string, FileEntry> Files { get; } = new(StringComparer.Ordinal);
    private JsonElement _config;

    public static OciArchiveImage Read(string archive)
    {
        var blobs = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        using (var tr = new TarReader(File.OpenRead(archive)))
            while (tr.GetNextEntry() is { } e)
                if (e.DataStream is not null) { using var ms = new MemoryStream(); e.DataStream.CopyTo(ms); blobs[EntryPath(e.Name)] = ms.ToArray(); }
        byte[] Blob(JsonElement desc) => blobs["blobs/" + desc.GetProperty("digest").GetString()!.Replace(':', '/')];

        using var index = JsonDocument.Parse(blobs["index.json"]);
        using var manifest = JsonDocument.Parse(Blob(index.RootElement.GetProperty("manifests")[0]));
        var image = new OciArchiveImage();
        using (var config = JsonDocument.Parse(Blob(manifest.RootElement.GetProperty("config"))))
            image._config = config.RootElement.GetProperty("config").Clone();
        foreach (var layer in manifest.RootElement.GetProperty("layers").EnumerateArray())
            image.Apply(Blob(layer));
        return image;
    }

    /// <summary>A config field as normalised JSON: absent, null and empty all read "null"; buildah's own version label is dropped.</summary>
    public string ConfigField(string name)
    {
        if (!_config.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return "null";
        if (name == "Labels")
        {
            // io.buildah.version is buildah stamping itself, not something the Dockerfile asked for.
            var labels = v.EnumerateObject().Where(p => p.Name != "io.buildah.version").Select(p => $"{p.Name}={p.Value.GetString()}").Order(StringComparer.Ordinal).ToList();
            return labels.Count == 0 ? "null" : string.Join(", ", labels);
        }
        if (v.ValueKind is JsonValueKind.Object)
            return v.EnumerateObject().Any() ? string.Join(", ", v.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal)) : "null";
        if (v.ValueKind is JsonValueKind.Array)
            return v.GetArrayLength() == 0 ? "null" : v.GetRawText();
        return v.ValueKind == JsonValueKind.String && v.GetString()!.Length == 0 ? "null" : v.GetRawText();
    }

    private void Apply(byte[] blob)
    {
        Stream s = new MemoryStream(blob);
        if (blob.Length > 2 && blob[0] == 0x1f && blob[1] == 0x8b) s = new GZipStream(s, CompressionMode.Decompress);
        var lower = new HashSet<string>(Files.Keys, StringComparer.Ordinal);
        using var tr = new TarReader(s);
        while (tr.GetNextEntry() is { } e)
        {
            var path = EntryPath(e.Name);
            if (path.Length == 0) continue;
            var dir = path.Contains('/') ? path[..path.LastIndexOf('/')] : "";
            var name = path[(path.LastIndexOf('/') + 1)..];
            if (name == ".wh..wh..opq")
            {
                foreach (var k in Files.Keys.Where(k => lower.Contains(k) && k.StartsWith(dir + "/", StringComparison.Ordinal)).ToList()) Files.Remove(k);
                continue;
            }
            if (name.StartsWith(".wh.", StringComparison.Ordinal))
            {
                Remove((dir.Length > 0 ? dir + "/" : "") + name[4..]);
                continue;
            }
            if (e.EntryType != TarEntryType.Directory) Remove(path);
            var mode = (int)e.Mode & 0xFFF;
            switch (e.EntryType)
            {
                case TarEntryType.Directory:
                    Files[path] = new FileEntry('d', mode, e.Uid, e.Gid, "", "");
                    break;
                case TarEntryType.SymbolicLink:
                    Files[path] = new FileEntry('l', 0, e.Uid, e.Gid, e.LinkName, "");
                    break;
                case TarEntryType.HardLink:
                    {
                        // A hard link is the same file under another name; whether a builder wrote it as a link is not compared.
                        var target = Files[EntryPath(e.LinkName)];
                        Files[path] = target;
                        break;
                    }
                case TarEntryType.RegularFile or TarEntryType.V7RegularFile:
                    {
                        using var ms = new MemoryStream();
                        e.DataStream?.CopyTo(ms);
                        Files[path] = new FileEntry('f', mode, e.Uid, e.Gid, "", Convert.ToHexStringLower(SHA256.HashData(ms.ToArray())));
                        break;
                    }
                default:
                    Files[path] = new FileEntry(e.EntryType.ToString()[0], mode, e.Uid, e.Gid, "", "");
                    break;
            }
        }
    }

    /// <summary>A tar entry name as a rootfs path: no "./" prefix, no leading or trailing slash ("./.wh.x" is ".wh.x").</summary>
    public static string EntryPath(string name)
    {
        if (name == ".") return "";
        if (name.StartsWith("./", StringComparison.Ordinal)) name = name[2..];
        return name.Trim('/');
    }

    private void Remove(string path)
    {
        Files.Remove(path);
        foreach (var k in Files.Keys.Where(k => k.StartsWith(path + "/", StringComparison.Ordinal)).ToList()) Files.Remove(k);
    }
}
