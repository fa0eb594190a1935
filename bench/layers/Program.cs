using System.Diagnostics;
using Img.Archive.Layers;
using Img.Oci;

// LayerBench gen DIR MIB     : a file tree of about MIB MiB (mixed text-like and random files, nested dirs)
// LayerBench layer DIR OUT [gzip|zstd|none] : one pass tar + diffID + compression + blob digest into OUT
if (args.Length >= 3 && args[0] == "gen")
{
    Generate(args[1], int.Parse(args[2]));
    return 0;
}
if (args.Length >= 3 && args[0] == "layer")
{
    var compression = args.Length > 3 ? Enum.Parse<Compression>(args[3], ignoreCase: true) : Compression.Gzip;
    var proc = Process.GetCurrentProcess();
    var cpu0 = proc.TotalProcessorTime;
    var sw = Stopwatch.StartNew();
    LayerWriteResult r;
    await using (var output = new FileStream(args[2], FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20, FileOptions.Asynchronous))
        r = await LayerWriter.WriteTreeAsync(args[1], output, compression);
    sw.Stop();
    proc.Refresh();
    var cpu = (proc.TotalProcessorTime - cpu0).TotalSeconds;
    var mib = r.UncompressedSize / 1048576.0;
    Console.WriteLine($"img layer ({compression}): {mib:F0} MiB tar -> {r.Size / 1048576.0:F1} MiB in {sw.Elapsed.TotalSeconds:F2}s = {mib / sw.Elapsed.TotalSeconds:F0} MiB/s, {cpu / sw.Elapsed.TotalSeconds:F2} cores of {Environment.ProcessorCount}");
    Console.WriteLine($"  diffID {r.DiffId}");
    Console.WriteLine($"  digest {r.Digest}");
    return 0;
}
Console.Error.WriteLine("usage: LayerBench gen DIR MIB | LayerBench layer DIR OUT [gzip|zstd|none]");
return 2;

static void Generate(string root, int mib)
{
    var rng = new Random(42);
    var words = "layer tar gzip zstd digest snapshot overlay whiteout opaque manifest config index blob root user namespace\n"u8.ToArray();
    long left = (long)mib << 20;
    var n = 0;
    var buf = new byte[4 << 20];
    while (left > 0)
    {
        var dir = Path.Combine(root, $"d{n % 17}", $"s{n % 5}");
        Directory.CreateDirectory(dir);
        // Mostly small and medium files, a few large ones, as in a distribution image.
        var size = (int)Math.Min(left, n % 50 == 0 ? 4 << 20 : rng.Next(1, 256 << 10));
        var random = n % 3 == 0; // already-compressed content (archives, images) does not shrink
        for (var i = 0; i < size; i++) buf[i] = random || rng.Next(8) == 0 ? (byte)rng.Next(256) : words[rng.Next(words.Length)];
        File.WriteAllBytes(Path.Combine(dir, $"f{n}.bin"), buf.AsSpan(0, size).ToArray());
        left -= size;
        n++;
    }
    Console.WriteLine($"generated {n} files, {mib} MiB under {root}");
}
