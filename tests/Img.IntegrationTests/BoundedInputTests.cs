using System.Diagnostics;
using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using Img.TestSupport;
using Xunit.Abstractions;

namespace Img.IntegrationTests;

/// <summary>
/// Inputs whose size the sender chooses are bounded, each failure is one line naming the limit, and what a killed
/// command was writing (an ADD download, a save's temp archive) is removed by the next img command of any kind.
/// </summary>
public sealed class BoundedInputTests(ITestOutputHelper output)
{
    private static readonly byte[] Noise = Enumerable.Range(0, 64 * 1024).Select(i => (byte)(i * 31 + 7)).ToArray();

    /// <summary>An HTTP server whose every response is an endless chunked body, fast or (<paramref name="drip"/>) 80 bytes/s.</summary>
    private sealed class EndlessServer : IAsyncDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _serving;
        private readonly bool _drip;

        public EndlessServer(bool drip = false)
        {
            _drip = drip;
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            Port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
            _listener.Start();
            _serving = Task.Run(ServeAsync);
        }

        public int Port { get; }

        private async Task ServeAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                HttpListenerContext c;
                try { c = await _listener.GetContextAsync(); }
                catch (Exception) { return; }
                _ = Task.Run(async () =>
                {
                    try
                    {
                        c.Response.SendChunked = true;
                        while (!_stop.IsCancellationRequested)
                        {
                            if (!_drip)
                            {
                                await c.Response.OutputStream.WriteAsync(Noise, _stop.Token);
                                continue;
                            }
                            await c.Response.OutputStream.WriteAsync(Noise.AsMemory(0, 8), _stop.Token);
                            await c.Response.OutputStream.FlushAsync(_stop.Token);
                            await Task.Delay(100, _stop.Token);
                        }
                    }
                    catch (Exception) { }
                    finally { try { c.Response.Abort(); } catch (Exception) { } }
                });
            }
        }

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            _listener.Stop();
            await _serving;
            _listener.Close();
        }
    }

    private static void AssertOneErrorLine(ProcessResult r, string contains)
    {
        Assert.Equal(1, r.ExitCode);
        var errors = r.Stderr.Split('\n').Where(l => l.StartsWith("Error: ", StringComparison.Ordinal)).ToList();
        Assert.True(errors.Count == 1, "expected one Error: line:\n" + r.Stderr);
        Assert.Contains(contains, errors[0]);
        Assert.DoesNotContain("   at ", r.Stderr);
    }

    private static async Task<(ImgCli Img, string Context)> BaseAsync(string name, string dockerfile)
    {
        var img = new ImgCli();
        await img.RunAsync("import", await BusyboxRootfs.TarballAsync(), "boundbase");
        var ctx = TestUser.CreateOwnedTempDir(name);
        await File.WriteAllTextAsync(Path.Combine(ctx, "Dockerfile"), dockerfile);
        await CrashData.ChownAsync(ctx);
        return (img, ctx);
    }

    [Fact]
    public async Task AddOfAnEndlessBodyStopsAtTheCeiling()
    {
        await using var server = new EndlessServer();
        var (img, ctx) = await BaseAsync("endless-ctx", $"FROM boundbase\nADD http://127.0.0.1:{server.Port}/endless /x\n");
        img.Env["IMG_MAX_BLOB_SIZE"] = "8M";
        var clock = Stopwatch.StartNew();
        var r = await img.TryAsync("build", "--no-console", "-t", "endless", ctx);
        output.WriteLine($"{clock.Elapsed}: {r.Stderr}");
        AssertOneErrorLine(r, "img downloads at most 8388608 bytes (IMG_MAX_BLOB_SIZE)");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"took {clock.Elapsed}");
        await StoreChecker.AssertConsistentAsync(img, when: "after an endless ADD");
    }

    /// <summary>A body that drips 80 bytes/s never trips the idle timeout; the pull's low-speed rule (1024 bytes/s over 60 s) ends it.</summary>
    [Fact]
    public async Task AddOfADrippingBodyFailsAsTooSlow()
    {
        await using var server = new EndlessServer(drip: true);
        var (img, ctx) = await BaseAsync("drip-ctx", $"FROM boundbase\nADD http://127.0.0.1:{server.Port}/drip /x\n");
        var clock = Stopwatch.StartNew();
        var r = await img.TryAsync("build", "--no-console", "-t", "drip", ctx);
        output.WriteLine($"{clock.Elapsed}: {r.Stderr}");
        AssertOneErrorLine(r, "transfer slower than 1024 bytes/s for 60s");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(150), $"took {clock.Elapsed}");
        await StoreChecker.AssertConsistentAsync(img, when: "after a dripping ADD");
    }

    [Fact]
    public async Task KilledBuildsDownloadIsRemovedByTheNextCommand()
    {
        await using var server = new EndlessServer();
        var (img, ctx) = await BaseAsync("killed-dl-ctx", $"FROM boundbase\nADD http://127.0.0.1:{server.Port}/endless /x\n");
        using var build = RunningImg.Start(img, "build", "--no-console", "-t", "killed", ctx);
        var ingest = Path.Combine(img.StateDir, "content", "ingest");
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (!(Directory.Exists(ingest) && Directory.GetFiles(ingest, "*.download").Any(f => new FileInfo(f).Length > (4 << 20))))
        {
            Assert.False(build.HasExited, "the build ended before its download grew:\n" + build.Stderr);
            Assert.True(DateTime.UtcNow < deadline, "no download grew within a minute:\n" + build.Stderr);
            await Task.Delay(100);
        }
        var killed = await build.KillTreeAsync();
        Assert.NotEmpty(Directory.GetFiles(ingest, "*.download"));

        await img.RunAsync("ls");
        Assert.Empty(Directory.GetFiles(ingest));
        await StoreChecker.AssertConsistentAsync(img, killed, "after a killed ADD download");
    }

    [Fact]
    public async Task SecretLargerThanTheLimitIsRefusedUnread()
    {
        var (img, ctx) = await BaseAsync("big-secret-ctx", "FROM boundbase\nRUN --mount=type=secret,id=s,env=S test -n \"$S\"\n");
        var dir = TestUser.CreateOwnedTempDir("big-secret");
        var file = Path.Combine(dir, "s");
        await File.WriteAllBytesAsync(file, new byte[600 * 1024]);
        await CrashData.ChownAsync(dir);
        var r = await img.TryAsync("build", "--no-console", "-t", "bigsecret", "--secret", $"id=s,src={file}", ctx);
        output.WriteLine(r.Stderr);
        AssertOneErrorLine(r, "secret s: larger than the 512000 bytes a secret may hold");
    }

    [Fact]
    public async Task AddedGzipBombStopsAtTheUnpackCeiling()
    {
        // One file of 200 MiB of zeros: a tar.gz of about 200 KiB.
        var dir = TestUser.CreateOwnedTempDir("bomb-ctx");
        var bomb = Path.Combine(dir, "bomb.tar.gz");
        var plain = Path.Combine(TestUser.CreateOwnedTempDir("bomb-tar"), "bomb.tar");
        await using (var tar = new System.Formats.Tar.TarWriter(File.Create(plain)))
        {
            var entry = new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.RegularFile, "zeros") { DataStream = new ZeroStream(200L << 20) };
            await tar.WriteEntryAsync(entry);
        }
        await using (var gz = new GZipStream(File.Create(bomb), CompressionLevel.SmallestSize))
        await using (var src = File.OpenRead(plain))
            await src.CopyToAsync(gz);
        File.Delete(plain);
        output.WriteLine($"bomb: {new FileInfo(bomb).Length} bytes");
        await File.WriteAllTextAsync(Path.Combine(dir, "Dockerfile"), "FROM boundbase\nADD bomb.tar.gz /bomb/\n");
        await CrashData.ChownAsync(dir);
        var img = new ImgCli();
        await img.RunAsync("import", await BusyboxRootfs.TarballAsync(), "boundbase");
        img.Env["IMG_MAX_UNPACK_SIZE"] = "64M";
        var r = await img.TryAsync("build", "--no-console", "-t", "bomb", dir);
        output.WriteLine(r.Stderr);
        AssertOneErrorLine(r, "IMG_MAX_UNPACK_SIZE");
        Assert.Contains("limit of 67108864 bytes", r.Stderr);
        await StoreChecker.AssertConsistentAsync(img, when: "after a refused gzip bomb");
    }

    [Fact]
    public async Task KilledSavesTempArchiveIsRemovedByTheNextCommand()
    {
        var img = new ImgCli();
        await img.RunAsync("import", await CrashData.RandomTarAsync(64), "bound/save:v1");
        var dir = TestUser.CreateOwnedTempDir("killed-save");
        var archive = Path.Combine(dir, "image.tar");
        using var save = RunningImg.Start(img, "save", "-o", archive, "bound/save:v1");
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (!Directory.GetFiles(dir, ".image.tar.tmp-*").Any(f => new FileInfo(f).Length > (1 << 20)))
        {
            Assert.False(save.HasExited, "the save ended before it was killed:\n" + save.Stderr);
            Assert.True(DateTime.UtcNow < deadline, "no temp archive grew within a minute");
            await Task.Delay(20);
        }
        await save.KillTreeAsync();
        Assert.NotEmpty(Directory.GetFiles(dir, ".image.tar.tmp-*"));

        // Not another save into the same directory: any command.
        await img.RunAsync("ls");
        Assert.Empty(Directory.GetFiles(dir));
    }

    /// <summary>
    /// kill -9 of only the outer img during a RUN: the container (runc and its processes) stops within a second, and
    /// the namespace child, having cleaned up, follows.
    /// </summary>
    [Fact]
    public async Task NamespaceChildStopsItsWorkWithinASecondOfItsParent()
    {
        var (img, ctx) = await BaseAsync("follow-ctx", "FROM boundbase\nRUN sleep 60 && touch /done\n");
        using var build = RunningImg.Start(img, "build", "--no-console", "-t", "follow", ctx);
        List<TrackedProcess> tree = [];
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (!(tree = ProcTable.Descendants(build.Pid)).Any(p => p.Comm == "sleep"))
        {
            Assert.False(build.HasExited, "the build ended before its RUN started:\n" + build.Stderr);
            Assert.True(DateTime.UtcNow < deadline, "the RUN step did not start within a minute:\n" + build.Stderr);
            await Task.Delay(50);
        }
        var container = tree.Where(p => p.Comm is not ("img" or "unshare")).ToList();
        Assert.Equal(0, ProcTable.Kill(build.Pid, ProcTable.SIGKILL));
        var clock = Stopwatch.StartNew();
        while (container.Any(p => p.IsAlive()) && clock.Elapsed < TimeSpan.FromSeconds(15)) await Task.Delay(10);
        var containerGone = clock.Elapsed;
        while (tree.Any(p => !p.IsGone()) && clock.Elapsed < TimeSpan.FromSeconds(15)) await Task.Delay(10);
        var survivors = tree.Where(p => p.IsAlive()).ToList();
        foreach (var s in survivors) ProcTable.Kill(s.Pid, ProcTable.SIGKILL);
        output.WriteLine($"container stopped {containerGone.TotalMilliseconds:F0} ms, namespace child gone {clock.ElapsedMilliseconds} ms after the outer img was killed");
        Assert.True(survivors.Count == 0, "still running: " + string.Join(", ", survivors));
        Assert.True(containerGone < TimeSpan.FromSeconds(1), $"the container took {containerGone} to stop");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"the namespace child took {clock.Elapsed} to finish");
        var runtimeRoot = Path.Combine(img.StateDir, "runtime-root");
        var states = Directory.Exists(runtimeRoot) ? Directory.GetDirectories(runtimeRoot).SelectMany(Directory.GetDirectories).ToList() : [];
        Assert.True(states.Count == 0, "runtime states left: " + string.Join(", ", states));
    }

    /// <summary>
    /// kill -9 of both img processes (the outer one and the namespace child) during a RUN: nobody is left to cancel,
    /// yet the runtime and the container must not run on (they once did until the next build).
    /// </summary>
    [Fact]
    public async Task ContainerStopsWhenBothImgProcessesAreKilled()
    {
        var (img, ctx) = await BaseAsync("both-ctx", "FROM boundbase\nRUN sleep 60 && touch /done\n");
        using var build = RunningImg.Start(img, "build", "--no-console", "-t", "both", ctx);
        List<TrackedProcess> tree = [];
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (!(tree = ProcTable.Descendants(build.Pid)).Any(p => p.Comm == "sleep"))
        {
            Assert.False(build.HasExited, "the build ended before its RUN started:\n" + build.Stderr);
            Assert.True(DateTime.UtcNow < deadline, "the RUN step did not start within a minute:\n" + build.Stderr);
            await Task.Delay(50);
        }
        foreach (var p in tree.Where(p => p.Comm == "img").Prepend(build.Root!)) ProcTable.Kill(p.Pid, ProcTable.SIGKILL);
        var clock = Stopwatch.StartNew();
        // Stopped means dead: an orphan is reaped by init in its own time.
        while (tree.Any(p => p.IsAlive()) && clock.Elapsed < TimeSpan.FromSeconds(15)) await Task.Delay(10);
        var survivors = tree.Where(p => p.IsAlive()).ToList();
        foreach (var s in survivors) ProcTable.Kill(s.Pid, ProcTable.SIGKILL);
        output.WriteLine($"runtime and container gone {clock.ElapsedMilliseconds} ms after both img processes were killed");
        Assert.True(survivors.Count == 0, "still running after both img processes died: " + string.Join(", ", survivors));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"the runtime and its container took {clock.Elapsed} to stop");
        // Orphans are init's to reap, in its own time (as KillTreeAsync waits for them).
        var reaped = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (tree.Any(p => !p.IsGone()) && DateTime.UtcNow < reaped) await Task.Delay(20);
        // What they left (bundle, runtime state, active snapshot) is the next command's to reclaim.
        await img.RunAsync("prune");
        await StoreChecker.AssertConsistentAsync(img, tree, "after both img processes were killed");
    }

    /// <summary>A read-only stream of <paramref name="length"/> zero bytes.</summary>
    private sealed class ZeroStream(long length) : Stream
    {
        private long _position;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => length;
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = (int)Math.Min(count, length - _position);
            Array.Clear(buffer, offset, n);
            _position += n;
            return n;
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
