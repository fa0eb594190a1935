using System.Diagnostics;
using System.IO.Compression;
using Img.Archive.Layers;
using Img.Oci;
using Img.TestSupport;

namespace Img.Archive.Tests.Layers;

public class CompressionTests
{
    /// <summary>Compressible but not trivial bytes: words from a small vocabulary in a seeded random order.</summary>
    internal static byte[] TextLike(int size, int seed = 1)
    {
        var words = "layer tar gzip zstd digest snapshot overlay whiteout opaque manifest config index blob root user namespace"u8.ToArray();
        var rng = new Random(seed);
        var data = new byte[size];
        for (var i = 0; i < size; i++) data[i] = rng.Next(8) == 0 ? (byte)rng.Next(256) : words[rng.Next(words.Length)];
        return data;
    }

    private static byte[] Gzip(byte[] input, int? threads = null, int chunk = 7777)
    {
        var ms = new MemoryStream();
        using (var gz = new ParallelGzipStream(ms, threads: threads, leaveOpen: true))
            for (var off = 0; off < input.Length; off += chunk)
                gz.Write(input, off, Math.Min(chunk, input.Length - off));
        return ms.ToArray();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(ParallelGzipStream.DefaultBlockSize)]
    [InlineData(3 * ParallelGzipStream.DefaultBlockSize + 12345)]
    public async Task ParallelGzipDecompressesToTheInputAsOneMemberGzipAccepts(int size)
    {
        var input = TextLike(size);
        await AssertDecodesEverywhereAsync(input, Gzip(input));
    }

    /// <summary>.NET, gzip -t and zlib (which stops at the end of the first member) all read <paramref name="gz"/> back to <paramref name="input"/>.</summary>
    private static async Task AssertDecodesEverywhereAsync(byte[] input, byte[] gz)
    {
        using var back = new MemoryStream();
        await using (var d = new GZipStream(new MemoryStream(gz), CompressionMode.Decompress)) await d.CopyToAsync(back);
        Assert.Equal(input, back.ToArray());

        using var dir = new TempDir();
        var file = Path.Combine(dir.Path, "x.gz");
        await File.WriteAllBytesAsync(file, gz);
        (await ProcessRunner.RunAsync("gzip", ["-t", file])).EnsureSuccess("gzip -t");
        var py = "import sys,zlib; d=open(sys.argv[1],'rb').read(); o=zlib.decompressobj(31); o.decompress(d); print(o.eof, len(o.unused_data))";
        var r = (await ProcessRunner.RunAsync("python3", ["-c", py, file])).EnsureSuccess("python zlib");
        Assert.Equal("True 0", r.Stdout.Trim());
    }

    /// <summary>Random blocks, a compressible block, random again, and a random 16 KiB piece repeated (high entropy, yet deflate shrinks it).</summary>
    private static byte[] Mixed()
    {
        var rng = new Random(5);
        var random = new byte[2 * ParallelGzipStream.DefaultBlockSize + 70_000];
        rng.NextBytes(random);
        var piece = new byte[16 * 1024];
        rng.NextBytes(piece);
        var repeated = Enumerable.Repeat(piece, ParallelGzipStream.DefaultBlockSize / piece.Length).SelectMany(p => p).ToArray();
        return [.. random, .. TextLike(ParallelGzipStream.DefaultBlockSize), .. random[..(ParallelGzipStream.DefaultBlockSize + 3)], .. repeated];
    }

    [Fact]
    public async Task IncompressibleBlocksAreStoredAndTheStreamStillDecodesEverywhere()
    {
        var input = Mixed();
        var gz = Gzip(input);
        await AssertDecodesEverywhereAsync(input, gz);
        Assert.True(Gzip(input, threads: 1, chunk: 333).AsSpan().SequenceEqual(gz), "stored blocks keep the output deterministic");
    }

    [Fact]
    public void RandomDataBecomesStoredBlocksAndRepeatedHighEntropyDataIsStillDeflated()
    {
        var random = new byte[2 * ParallelGzipStream.DefaultBlockSize];
        new Random(9).NextBytes(random);
        var gz = Gzip(random);
        // After the 10-byte header: a stored block (BTYPE 00, not final) of 65,535 bytes, LEN then NLEN.
        Assert.Equal(new byte[] { 0x00, 0xff, 0xff, 0x00, 0x00 }, gz[10..15]);
        Assert.Equal(random[..100], gz[15..115]);

        var piece = random[..(16 * 1024)];
        var repeated = Enumerable.Repeat(piece, 2 * ParallelGzipStream.DefaultBlockSize / piece.Length).SelectMany(p => p).ToArray();
        Assert.True(Incompressibility.Entropy(repeated) > 7.99);
        Assert.True(Gzip(repeated).Length < repeated.Length / 10, "a repeated random piece is still found by deflate's window");
    }

    [Fact]
    public void EntropyTellsRandomFromText()
    {
        var random = new byte[1 << 20];
        new Random(3).NextBytes(random);
        Assert.InRange(Incompressibility.Entropy(random), 7.99, 8.0);
        Assert.InRange(Incompressibility.Entropy(TextLike(1 << 20)), 0, 7.0);
        Assert.True(Incompressibility.IsIncompressible(random));
        Assert.False(Incompressibility.IsIncompressible(TextLike(1 << 20)));
    }

    [Fact]
    public void ParallelGzipIsDeterministicAcrossThreadCountsAndWriteSizes()
    {
        var input = TextLike(2 * ParallelGzipStream.DefaultBlockSize + 999);
        var a = Gzip(input, threads: 1, chunk: 512);
        var b = Gzip(input, threads: 4, chunk: 1 << 20);
        Assert.Equal(a, b);
        Assert.Equal(new byte[] { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff }, a[..10]); // no name, mtime 0
    }

    [Fact]
    public async Task ParallelGzipUsesMoreThanOneCoreOn64MiB()
    {
        if (Environment.ProcessorCount < 2) return; // one core: nothing to measure
        var input = TextLike(64 << 20, seed: 7);
        var proc = Process.GetCurrentProcess();
        var load = double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        var cpu0 = proc.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        var ms = new MemoryStream();
        int peak;
        using (var gz = new ParallelGzipStream(ms, leaveOpen: true))
        {
            for (var off = 0; off < input.Length; off += 1 << 20) await gz.WriteAsync(input.AsMemory(off, 1 << 20));
            await gz.FinishAsync();
            peak = gz.PeakConcurrency;
        }
        sw.Stop();
        proc.Refresh();
        var cpu = (proc.TotalProcessorTime - cpu0).TotalSeconds;
        var cores = cpu / sw.Elapsed.TotalSeconds;
        var report = $"parallel gzip: {cores:F2} cores ({cpu:F2}s CPU in {sw.Elapsed.TotalSeconds:F2}s), peak {peak} blocks at once, load {load}";
        Console.WriteLine(report);
        Assert.True(ms.Length < input.Length);
        Assert.True(peak >= 2, report);
        // CPU time over wall time only shows the cores when others are not using them.
        if (load < Environment.ProcessorCount - 1) Assert.True(cores > 1.2, report);
    }

    [Fact]
    public async Task ZstdRoundTripsAndIsSniffed()
    {
        var input = TextLike(3 << 20);
        var ms = new MemoryStream();
        await using (var z = LayerCompression.OpenCompressing(ms, Compression.Zstd)) await z.WriteAsync(input);
        var blob = ms.ToArray();
        Assert.Equal(Compression.Zstd, LayerCompression.Detect(blob));
        await using var d = await LayerCompression.OpenDecompressingAsync(new MemoryStream(blob));
        using var back = new MemoryStream();
        await d.CopyToAsync(back);
        Assert.Equal(input, back.ToArray());

        using var dir = new TempDir();
        var file = Path.Combine(dir.Path, "x.zst");
        await File.WriteAllBytesAsync(file, blob);
        (await ProcessRunner.RunAsync("zstd", ["-t", "-q", file])).EnsureSuccess("zstd -t");

        var ms2 = new MemoryStream();
        await using (var z = LayerCompression.OpenCompressing(ms2, Compression.Zstd)) await z.WriteAsync(input);
        Assert.Equal(blob, ms2.ToArray());
    }

    [Fact]
    public async Task SniffingAndMediaTypesChooseTheDecompressor()
    {
        var plain = TextLike(1000);
        Assert.Equal(Compression.None, LayerCompression.Detect(plain));
        Assert.Equal(Compression.None, LayerCompression.Detect([]));
        var gz = Gzip(plain);
        Assert.Equal(Compression.Gzip, LayerCompression.Detect(gz));
        foreach (var blob in new[] { plain, gz, Array.Empty<byte>(), new byte[] { 0x1f } })
        {
            if (blob.Length == 1) continue;
            await using var s = await LayerCompression.OpenDecompressingAsync(new MemoryStream(blob));
            using var back = new MemoryStream();
            await s.CopyToAsync(back);
            Assert.Equal(blob == gz ? plain : blob, back.ToArray());
        }
        await using var byType = LayerCompression.OpenDecompressing(new MemoryStream(gz), MediaTypes.OciLayerGzip);
        using var b2 = new MemoryStream();
        await byType.CopyToAsync(b2);
        Assert.Equal(plain, b2.ToArray());
        // GNU gzip output (with a name and mtime) reads too.
        using var dir = new TempDir();
        var file = Path.Combine(dir.Path, "p");
        await File.WriteAllBytesAsync(file, plain);
        (await ProcessRunner.RunAsync("gzip", ["-k", file])).EnsureSuccess("gzip");
        await using var gnu = await LayerCompression.OpenDecompressingAsync(File.OpenRead(file + ".gz"));
        using var b3 = new MemoryStream();
        await gnu.CopyToAsync(b3);
        Assert.Equal(plain, b3.ToArray());
    }

    [Fact]
    public async Task HashingStreamDigestsAndCountsWhatPassesThrough()
    {
        var data = TextLike(100_000);
        var sink = new MemoryStream();
        var h = new HashingStream(sink, leaveOpen: true);
        await h.WriteAsync(data.AsMemory(0, 10));
        h.Write(data, 10, data.Length - 10);
        Assert.Equal(Digest.Compute(data), h.GetDigest());
        Assert.Equal(data.Length, h.BytesHashed);
        Assert.Equal(data, sink.ToArray());

        var r = new HashingStream(new MemoryStream(data));
        await r.CopyToAsync(Stream.Null);
        Assert.Equal(Digest.Compute(data), r.GetDigest());
    }
}
