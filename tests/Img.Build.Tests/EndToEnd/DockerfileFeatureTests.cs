using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Img.TestSupport;

namespace Img.Build.Tests.EndToEnd;

/// <summary>ONBUILD, COPY --exclude/--parents/--link, heredocs, ADD of a URL with --checksum and the native backend, end to end.</summary>
[Collection("img build")]
public sealed class DockerfileFeatureTests(ImgBuildFixture img)
{
    private static string Out(string ctx, string path) => File.ReadAllText(Path.Combine(ctx, "out", path));

    [Fact]
    public async Task OnbuildTriggersAreRecordedRunInTheChildAndCleared()
    {
        var parent = img.NewContext("""
            FROM base
            ONBUILD RUN echo triggered > /trig
            ONBUILD COPY a.txt /a.txt
            """);
        (await img.BuildAsync(parent, "--no-console", "-t", "onbuild-parent", ".")).EnsureSuccess("parent build");
        using (var doc = JsonDocument.Parse((await img.ImgAsync(parent, null, ["inspect", "onbuild-parent"])).Stdout))
            Assert.Equal(["RUN echo triggered > /trig", "COPY a.txt /a.txt"],
                doc.RootElement.GetProperty("config").GetProperty("OnBuild").EnumerateArray().Select(e => e.GetString()));
        Assert.False(File.Exists(Path.Combine(parent, "out/trig")));

        var child = img.NewContext("FROM onbuild-parent\nRUN cat /trig /a.txt > /both\n", ("a.txt", "from child context\n"));
        (await img.BuildAsync(child, "--no-console", "-t", "onbuild-child", ".")).EnsureSuccess("child build");
        (await img.BuildAsync(child, "--no-console", "-o", "type=local,dest=out", ".")).EnsureSuccess("child build to a directory");
        Assert.Equal("triggered\nfrom child context\n", Out(child, "both"));
        using var childDoc = JsonDocument.Parse((await img.ImgAsync(child, null, ["inspect", "onbuild-child"])).Stdout);
        var config = childDoc.RootElement.GetProperty("config");
        Assert.True(!config.TryGetProperty("OnBuild", out var ob) || ob.ValueKind == JsonValueKind.Null || ob.GetArrayLength() == 0, "the child's config keeps no triggers");
    }

    [Fact]
    public async Task CopyExcludeParentsAndLink()
    {
        var ctx = img.NewContext("""
            FROM base
            COPY --exclude=*.log --exclude=skip dir/ /excl/
            COPY --exclude=**/*.log dir /excl-deep/
            COPY --exclude=*.txt a/b/file.txt c/d.txt /excl-files/
            COPY --parents a/b/file.txt c/d.txt /par/
            COPY --link a/b/file.txt /linked.txt
            """, ("dir/keep.txt", "k"), ("dir/x.log", "l"), ("dir/skip/y.txt", "y"), ("dir/sub/z.log", "z"), ("dir/sub/w.txt", "w"),
            ("a/b/file.txt", "f"), ("c/d.txt", "d"));
        var r = await img.BuildAsync(ctx, "--no-console", "-o", "type=local,dest=out", ".");
        r.EnsureSuccess("build");
        Assert.Equal("k", Out(ctx, "excl/keep.txt"));
        Assert.Equal("w", Out(ctx, "excl/sub/w.txt"));
        Assert.False(File.Exists(Path.Combine(ctx, "out/excl/x.log")));
        // Patterns match below the source: "*" stays in one directory level, "**" crosses them.
        Assert.Equal("z", Out(ctx, "excl/sub/z.log"));
        Assert.False(Directory.Exists(Path.Combine(ctx, "out/excl/skip")));
        Assert.False(File.Exists(Path.Combine(ctx, "out/excl-deep/sub/z.log")));
        Assert.False(File.Exists(Path.Combine(ctx, "out/excl-deep/x.log")));
        Assert.Equal("y", Out(ctx, "excl-deep/skip/y.txt"));
        Assert.False(Directory.Exists(Path.Combine(ctx, "out/excl-files")));
        Assert.Equal("f", Out(ctx, "par/a/b/file.txt"));
        Assert.Equal("d", Out(ctx, "par/c/d.txt"));
        Assert.Equal("f", Out(ctx, "linked.txt"));
    }

    [Fact]
    public async Task HeredocsRunAScriptAndWriteFiles()
    {
        var ctx = img.NewContext("""
            FROM base
            ARG WHO=heredoc
            RUN <<EOF
            echo one > /h1
            echo "two $WHO" >> /h1
            EOF
            COPY <<EOF /h2
            line1
            line2 $WHO
            EOF
            """);
        var r = await img.BuildAsync(ctx, "--no-console", "-o", "type=local,dest=out", ".");
        r.EnsureSuccess("build");
        Assert.Equal("one\ntwo heredoc\n", Out(ctx, "h1"));
        Assert.Equal("line1\nline2 heredoc\n", Out(ctx, "h2"));
    }

    [Fact]
    public async Task AddOfAUrlVerifiesTheChecksum()
    {
        var payload = Encoding.UTF8.GetBytes("served over http\n");
        var port = FreePort.Pick();
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        using var stop = new CancellationTokenSource();
        var serving = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                HttpListenerContext c;
                try { c = await listener.GetContextAsync(); }
                catch (Exception) when (stop.IsCancellationRequested) { return; }
                catch (HttpListenerException) { return; }
                if (c.Request.Url!.AbsolutePath == "/files/payload.txt")
                {
                    c.Response.ContentLength64 = payload.Length;
                    await c.Response.OutputStream.WriteAsync(payload);
                }
                else c.Response.StatusCode = 404;
                c.Response.Close();
            }
        });
        try
        {
            var sum = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(payload));
            var url = $"http://127.0.0.1:{port}/files/payload.txt";
            var ctx = img.NewContext($"FROM base\nADD --checksum={sum} {url} /dl/\nADD {url} /named.txt\n");
            var ok = await img.BuildAsync(ctx, "--no-console", "-o", "type=local,dest=out", ".");
            ok.EnsureSuccess("ADD with the right checksum");
            Assert.Equal("served over http\n", Out(ctx, "dl/payload.txt"));
            Assert.Equal("served over http\n", Out(ctx, "named.txt"));

            var wrong = "sha256:" + new string('0', 64);
            var bad = img.NewContext($"FROM base\nADD --checksum={wrong} {url} /dl/\n");
            var r = await img.BuildAsync(bad, "--no-console", "-o", "type=local,dest=out", ".");
            Assert.Equal(1, r.ExitCode);
            Assert.Contains($"digest mismatch {sum}: {wrong}", r.Stderr);

            var missing = img.NewContext($"FROM base\nADD http://127.0.0.1:{port}/nothing /x\n");
            var m = await img.BuildAsync(missing, "--no-console", "-o", "type=local,dest=out", ".");
            Assert.Equal(1, m.ExitCode);
            Assert.Contains("invalid response status 404", m.Stderr);
        }
        finally
        {
            stop.Cancel();
            listener.Stop();
            await serving;
        }
    }

    [Fact]
    public async Task NativeBackendMakesTheSameLayersAsOverlayfs()
    {
        // Backends keep separate stores, so the base is built here from scratch on each.
        var ctx = img.NewContext("""
            FROM scratch
            COPY busybox /bin/busybox
            RUN ["/bin/busybox", "--install", "-s", "/bin"]
            RUN mkdir -p /d/sub && echo a > /d/a && echo b > /d/sub/b && echo gone > /gone && chown 2:2 /d/a
            COPY extra/ /d/extra/
            RUN rm /gone /d/sub/b && echo changed > /d/a && mkdir /new
            """, ("extra/e.txt", "e"));
        var overlay = await LayerListsAsync(ctx, "overlayfs");
        var native = await LayerListsAsync(ctx, "native");
        Assert.Equal(5, native.Count);
        Assert.Contains(native[4], e => e.StartsWith(".wh.gone ", StringComparison.Ordinal));
        Assert.Contains(native[4], e => e.StartsWith("d/sub/.wh.b ", StringComparison.Ordinal));
        for (int i = 0; i < overlay.Count; i++)
            Assert.Equal(overlay[i], native[i]);
    }

    private async Task<List<List<string>>> LayerListsAsync(string ctx, string backend)
    {
        var dest = Path.Combine(ctx, backend + ".tar");
        (await img.ImgAsync(ctx, null, ["-b", backend, "build", "--no-console", "-o", "type=oci,dest=" + dest, "."])).EnsureSuccess("build on " + backend);
        var blobs = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        using (var tr = new TarReader(File.OpenRead(dest)))
            while (tr.GetNextEntry() is { } e)
                if (e.DataStream is not null) { using var ms = new MemoryStream(); e.DataStream.CopyTo(ms); blobs[e.Name] = ms.ToArray(); }
        byte[] Blob(JsonElement d) => blobs["blobs/" + d.GetProperty("digest").GetString()!.Replace(':', '/')];
        using var index = JsonDocument.Parse(blobs["index.json"]);
        using var manifest = JsonDocument.Parse(Blob(index.RootElement.GetProperty("manifests")[0]));
        var lists = new List<List<string>>();
        foreach (var layer in manifest.RootElement.GetProperty("layers").EnumerateArray())
        {
            var names = new List<string>();
            using var tr = new TarReader(new GZipStream(new MemoryStream(Blob(layer)), CompressionMode.Decompress));
            while (tr.GetNextEntry() is { } e)
                names.Add($"{OciArchiveImage.EntryPath(e.Name)} {e.EntryType} {Convert.ToString((int)e.Mode, 8)} {e.Uid}:{e.Gid}");
            names.Sort(StringComparer.Ordinal);
            lists.Add(names);
        }
        return lists;
    }
}
