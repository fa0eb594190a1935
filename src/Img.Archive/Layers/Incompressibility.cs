using System.IO.Compression;

namespace Img.Archive.Layers;

/// <summary>
/// Tells data deflate cannot shrink (random bytes, already-compressed files) from data it can, cheaply: a byte
/// histogram's entropy first, then a fast deflate of two samples to catch high-entropy data that repeats (which
/// deflate's window would still find). A wrong "incompressible" only costs ratio, never correctness; the answer
/// depends on the bytes alone, so layer digests stay reproducible.
/// </summary>
internal static class Incompressibility
{
    private const double MinEntropyBitsPerByte = 7.99;
    private const int SampleSize = 64 * 1024;
    private const double MinSampleRatio = 0.98;

    public static bool IsIncompressible(ReadOnlySpan<byte> data)
    {
        if (data.Length < 2 * SampleSize) return false;
        if (Entropy(data) < MinEntropyBitsPerByte) return false;
        return SampleRatio(data[..SampleSize]) >= MinSampleRatio
            && SampleRatio(data.Slice(data.Length / 2, SampleSize)) >= MinSampleRatio;
    }

    /// <summary>Shannon entropy of the byte distribution, in bits per byte (8 for uniform random data).</summary>
    internal static double Entropy(ReadOnlySpan<byte> data)
    {
        // Four histograms break the store-to-load dependency when neighbouring bytes are equal.
        Span<int> h = stackalloc int[256 * 4];
        int i = 0;
        for (; i + 4 <= data.Length; i += 4)
        {
            h[data[i]]++;
            h[256 + data[i + 1]]++;
            h[512 + data[i + 2]]++;
            h[768 + data[i + 3]]++;
        }
        for (; i < data.Length; i++) h[data[i]]++;
        double entropy = 0, total = data.Length;
        for (int b = 0; b < 256; b++)
        {
            int c = h[b] + h[256 + b] + h[512 + b] + h[768 + b];
            if (c == 0) continue;
            double p = c / total;
            entropy -= p * Math.Log2(p);
        }
        return entropy;
    }

    private static double SampleRatio(ReadOnlySpan<byte> sample)
    {
        var output = new CountingStream();
        using (var deflate = new DeflateStream(output, CompressionLevel.Fastest, leaveOpen: true)) deflate.Write(sample);
        return (double)output.Count / sample.Length;
    }

    /// <summary>Counts what is written and keeps none of it.</summary>
    private sealed class CountingStream : ForwardWriteStream
    {
        public long Count { get; private set; }
        public override void Write(ReadOnlySpan<byte> buffer) => Count += buffer.Length;
    }
}
