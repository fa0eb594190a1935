using System.Text;

namespace Img.Build;

/// <summary>A secret read into a RUN's environment (<c>--mount=type=secret,env=NAME</c>).</summary>
internal static class SecretValue
{
    /// <summary>The largest secret a build reads into a RUN's environment: docker's limit for a secret (500 KiB).</summary>
    internal const int MaxSize = 500 * 1024;

    /// <summary>The text of secret <paramref name="id"/>, held in <paramref name="file"/>.</summary>
    public static string Read(string id, string file)
    {
        try
        {
            // Read one byte past the limit, never the whole of what may be endless (/dev/zero, a FIFO's writer).
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.None);
            var buffer = new byte[MaxSize + 1];
            int n = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
            if (n > MaxSize)
                throw new BuildFailedException($"secret {id}: larger than the {MaxSize} bytes a secret may hold");
            // Decoded as File.ReadAllText did: UTF-8 unless a byte order mark says otherwise.
            using var reader = new StreamReader(new MemoryStream(buffer, 0, n), Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
            return reader.ReadToEnd();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BuildFailedException($"secret {id}: cannot read its file: {e.GetType().Name}");
        }
    }
}
