using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json;
using Img.TestSupport;

namespace Img.Build.Tests.EndToEnd;

/// <summary>
/// Dockerfiles whose results an outside conformance suite found different from BuildKit's: each builds as the
/// unprivileged user and must give what BuildKit gives.
/// </summary>
[Collection("img build")]
public sealed class BuildKitParityTests(ImgBuildFixture img)
{
    private static string Out(string ctx, string path) => File.ReadAllText(Path.Combine(ctx, "out", path));

    private async Task BuildToDirAsync(string ctx) =>
        (await img.BuildAsync(ctx, "--no-console", "-o", "type=local,dest=out", ".")).EnsureSuccess("build");

    private async Task<JsonElement> ConfigOfAsync(string ctx, string name)
    {
        (await img.BuildAsync(ctx, "--no-console", "-t", name, ".")).EnsureSuccess("build " + name);
        using var doc = JsonDocument.Parse((await img.ImgAsync(ctx, null, ["inspect", name])).EnsureSuccess("inspect").Stdout);
        return doc.RootElement.Clone();
    }

    [Fact]
    public async Task StagesFromTwoDifferentStoredBaseImagesBuildTogetherInSeveralProcesses()
    {
        // A second base image beside the fixture's: each stage loads its own at the same moment.
        var other = img.NewContext("FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nRUN echo other > /other-base\n");
        (await img.BuildAsync(other, "--no-console", "-t", "parity-other-base", ".")).EnsureSuccess("second base image");
        const string Dockerfile = "FROM base AS a\nRUN echo a > /a.txt\nFROM parity-other-base\nCOPY --from=a /a.txt /\n";
        async Task Builds(int process)
        {
            for (int i = 0; i < 3; i++)
            {
                var ctx = img.NewContext(Dockerfile);
                var r = await img.BuildAsync(ctx, "--no-console", "-o", "type=local,dest=out", ".");
                Assert.True(r.ExitCode == 0, $"process {process}, build {i}:\n{r.Stderr}");
                Assert.Equal("a\n", Out(ctx, "a.txt"));
                Assert.Equal("other\n", Out(ctx, "other-base"));
            }
        }
        await Task.WhenAll(Enumerable.Range(0, 3).Select(Builds));
    }

    [Fact]
    public async Task AnUnquotedCopyHeredocExpandsWithoutRemovingQuotes()
    {
        var ctx = img.NewContext("FROM base\nARG NAME=world\nCOPY <<EOT /greeting.txt\nhello=\"$NAME\" 'x' \\$NAME\nEOT\n");
        await BuildToDirAsync(ctx);
        Assert.Equal("hello=\"world\" 'x' $NAME\n", Out(ctx, "greeting.txt"));
    }

    [Fact]
    public async Task AHeredocFedToACommandRunsThroughTheShell()
    {
        var ctx = img.NewContext("FROM base\nRUN mkdir /h\nRUN <<-EOT sh\n\techo tabs-stripped > /h/tabs\n\tEOT\nRUN cat <<A <<B > /h/two\nfirst\nA\nsecond\nB\n");
        await BuildToDirAsync(ctx);
        Assert.Equal("tabs-stripped\n", Out(ctx, "h/tabs"));
        Assert.Equal("second\n", Out(ctx, "h/two"));
    }

    [Fact]
    public async Task WorkdirKeepsItsTrailingSlashInTheConfig()
    {
        var config = await ConfigOfAsync(img.NewContext("FROM base\nWORKDIR /srv/app/\nWORKDIR sub\nWORKDIR /srv/app/\n"), "parity-workdir");
        Assert.Equal("/srv/app/", config.GetProperty("config").GetProperty("WorkingDir").GetString());
        Assert.Contains(config.GetProperty("history").EnumerateArray(), h => h.GetProperty("created_by").GetString() == "WORKDIR /srv/app/sub");
    }

    [Fact]
    public async Task ArgsOfAStageReachAStageBuiltFromIt()
    {
        var ctx = img.NewContext("FROM base AS parent\nARG GREETING=hello\nFROM parent\nRUN echo \"[$GREETING]\" > /greeting.txt\n");
        await BuildToDirAsync(ctx);
        Assert.Equal("[hello]\n", Out(ctx, "greeting.txt"));
    }

    [Fact]
    public async Task CacheMountsWithDifferentOwnersAreDifferentCaches()
    {
        var ctx = img.NewContext("""
            FROM base
            RUN --mount=type=cache,target=/c16,uid=1000 touch /c16/x
            RUN --mount=type=cache,target=/c16 ls /c16 > /listing.txt
            RUN --mount=type=cache,target=/c16,uid=1000 ls /c16 > /listing-1000.txt
            """);
        await BuildToDirAsync(ctx);
        Assert.Equal("", Out(ctx, "listing.txt"));
        Assert.Equal("x\n", Out(ctx, "listing-1000.txt"));
    }

    [Fact]
    public async Task AnExcludedDirectoryWithAReincludedFileIsASource()
    {
        var ctx = img.NewContext("FROM base\nCOPY conf /conf/\n",
            (".dockerignore", "conf\n!conf/keep.txt\n"), ("conf/keep.txt", "keep"), ("conf/drop.txt", "drop"), ("conf/sub/deep.txt", "deep"));
        await BuildToDirAsync(ctx);
        Assert.Equal("keep", Out(ctx, "conf/keep.txt"));
        Assert.Equal(["keep.txt"], Directory.EnumerateFileSystemEntries(Path.Combine(ctx, "out", "conf")).Select(Path.GetFileName));
    }

    [Fact]
    public async Task AWildcardOfSeveralFilesOntoAPathWithoutSlashLeavesTheLast()
    {
        var ctx = img.NewContext("FROM base\nCOPY file* /dest\n", ("file1", "one"), ("file2", "two"));
        await BuildToDirAsync(ctx);
        Assert.True(File.Exists(Path.Combine(ctx, "out", "dest")), "/dest is a regular file");
        Assert.Equal("two", Out(ctx, "dest"));
    }

    [Fact]
    public async Task CopyParentsStartsThePathAtTheDotPivot()
    {
        var ctx = img.NewContext("FROM base\nCOPY --parents ./a/./b/c.txt /out/\nCOPY --parents ./x/y/./*.txt /out2/\nCOPY --parents a/b/c.txt /whole/\n",
            ("a/b/c.txt", "c"), ("x/y/a.txt", "xa"), ("x/y/b.txt", "xb"));
        await BuildToDirAsync(ctx);
        Assert.Equal("c", Out(ctx, "out/b/c.txt"));
        Assert.False(Directory.Exists(Path.Combine(ctx, "out", "out", "a")));
        Assert.Equal("xa", Out(ctx, "out2/a.txt"));
        Assert.Equal("xb", Out(ctx, "out2/b.txt"));
        Assert.Equal("c", Out(ctx, "whole/a/b/c.txt"));
    }

    [Fact]
    public async Task HardLinksSurviveCopyFromAStage()
    {
        var ctx = img.NewContext("FROM base AS src\nRUN mkdir /t && echo data > /t/a && ln /t/a /t/b\nFROM base\nCOPY --from=src /t /t\n");
        var archive = Path.Combine(ctx, "image.tar");
        (await img.BuildAsync(ctx, "--no-console", "-o", "type=oci,dest=" + archive, ".")).EnsureSuccess("build");
        var last = LastLayerEntries(archive);
        Assert.Equal(TarEntryType.RegularFile, last["t/a"].Type);
        Assert.Equal((TarEntryType.HardLink, "t/a"), (last["t/b"].Type, OciArchiveImage.EntryPath(last["t/b"].Link)));
    }

    [Fact]
    public async Task ScratchStartsFromBuildKitsEmptyConfig()
    {
        var config = await ConfigOfAsync(img.NewContext("FROM scratch\nCOPY busybox /bin/busybox\n"), "parity-scratch");
        var c = config.GetProperty("config");
        Assert.Equal("/", c.GetProperty("WorkingDir").GetString());
        Assert.Equal(["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], c.GetProperty("Env").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task HistoryIsSpelledAsBuildKitSpellsIt()
    {
        var config = await ConfigOfAsync(img.NewContext("""
            FROM base
            ARG A=1
            ARG B=2
            RUN echo hi > /hi
            ENV X=1 Y="a b"
            EXPOSE 80 443/tcp
            COPY --chmod=644 busybox .
            """), "parity-history");
        var own = config.GetProperty("history").EnumerateArray().Select(h => h.GetProperty("created_by").GetString()).TakeLast(6);
        Assert.Equal([
            "ARG A=1",
            "ARG B=2",
            "RUN |2 A=1 B=2 /bin/sh -c echo hi > /hi # buildkit",
            "ENV X=1 Y=a b",
            "EXPOSE map[443/tcp:{} 80/tcp:{}]",
            "COPY --chmod=644 busybox . # buildkit",
        ], own);
    }

    /// <summary>The entries of an OCI archive's last layer by path: type and link target.</summary>
    private static Dictionary<string, (TarEntryType Type, string Link)> LastLayerEntries(string archive)
    {
        var blobs = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        using (var tr = new TarReader(File.OpenRead(archive)))
            while (tr.GetNextEntry() is { } e)
                if (e.DataStream is not null) { using var ms = new MemoryStream(); e.DataStream.CopyTo(ms); blobs[OciArchiveImage.EntryPath(e.Name)] = ms.ToArray(); }
        byte[] Blob(JsonElement d) => blobs["blobs/" + d.GetProperty("digest").GetString()!.Replace(':', '/')];
        using var index = JsonDocument.Parse(blobs["index.json"]);
        using var manifest = JsonDocument.Parse(Blob(index.RootElement.GetProperty("manifests")[0]));
        var layer = manifest.RootElement.GetProperty("layers").EnumerateArray().Last();
        var entries = new Dictionary<string, (TarEntryType, string)>(StringComparer.Ordinal);
        using var layerTar = new TarReader(new GZipStream(new MemoryStream(Blob(layer)), CompressionMode.Decompress));
        while (layerTar.GetNextEntry() is { } e)
            entries[OciArchiveImage.EntryPath(e.Name)] = (e.EntryType, e.LinkName);
        return entries;
    }
}
