using System.Text;
using Img.Fs;
using Microsoft.Win32.SafeHandles;

namespace Img.Build;

/// <summary>
/// Reads the Dockerfile and the .dockerignore: regular files only, of bounded size. One inside the context is
/// resolved inside it (a link to "/dev/zero" names the context's own dev/zero, which is not there); a FIFO, device
/// or socket is refused without being opened for reading (O_NONBLOCK: opening a FIFO never waits for a writer).
/// </summary>
public static class DefinitionFile
{
    /// <summary>BuildKit receives the Dockerfile in one gRPC message, whose default limit is 16 MiB.</summary>
    public const int MaxBytes = 16 << 20;

    private const int O_NONBLOCK = 0x800;
    private const int O_NOCTTY = 0x100;

    /// <summary>The text of <paramref name="path"/>; <paramref name="what"/> names it in errors ("Dockerfile").</summary>
    public static async Task<string> ReadTextAsync(string path, string contextDir, string what, CancellationToken ct) =>
        Text(await ReadAsync(path, contextDir, what, ct).ConfigureAwait(false));

    /// <summary>The bytes as text: UTF-8, a BOM kept (the parser knows it).</summary>
    public static string Text(byte[] bytes) => new UTF8Encoding(false).GetString(bytes);

    /// <summary>The bytes of <paramref name="path"/>; <paramref name="what"/> names it in errors ("Dockerfile").</summary>
    public static async Task<byte[]> ReadAsync(string path, string contextDir, string what, CancellationToken ct)
    {
        var full = Path.GetFullPath(path);
        var context = Path.TrimEndingDirectorySeparator(Path.GetFullPath(contextDir));
        if (full.StartsWith(context + "/", StringComparison.Ordinal))
            full = RootPath.Resolve(context, full[context.Length..]);
        var fd = Native.OpenAt(Native.AT_FDCWD, full, Native.O_RDONLY | O_NONBLOCK | O_NOCTTY);
        if (fd < 0) throw new NativeException("open", path, -fd);
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        var st = Native.StatAt(fd, ReadOnlySpan<byte>.Empty, path) ?? throw new FileNotFoundException(path);
        if (!st.IsRegular)
            throw new IOException($"{what} {path} is {Kind(st.Type)}, not a regular file");
        if (st.Size > MaxBytes)
            throw new IOException($"{what} {path} is {st.Size} bytes, more than the limit of {MaxBytes} bytes");
        // The size can change under us (a file being written): read at most one byte past the limit to notice.
        var buf = new byte[Math.Min(st.Size, MaxBytes) + 1];
        int total = 0, n;
        while (total < buf.Length && (n = await RandomAccess.ReadAsync(handle, buf.AsMemory(total), total, ct).ConfigureAwait(false)) > 0)
            total += n;
        if (total > MaxBytes) throw new IOException($"{what} {path} is more than the limit of {MaxBytes} bytes");
        return buf[..total];
    }

    private static string Kind(uint type) => type switch
    {
        Native.S_IFIFO => "a FIFO",
        Native.S_IFCHR => "a character device",
        Native.S_IFBLK => "a block device",
        Native.S_IFSOCK => "a socket",
        Native.S_IFDIR => "a directory",
        _ => "a special file",
    };
}
