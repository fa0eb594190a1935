using System.Runtime.InteropServices;

namespace Img.Content;

/// <summary>
/// An advisory flock(2) on a file in the state directory. Processes that add content hold it
/// shared; garbage collection holds it exclusive, so it never deletes a blob that a running
/// pull or build has written but not yet recorded. The kernel drops it when a process dies.
/// </summary>
public sealed partial class StateLock : IDisposable
{
    private const int LOCK_SH = 1, LOCK_EX = 2, LOCK_UN = 8;
    private int _fd;

    private StateLock(int fd) => _fd = fd;

    public static StateLock Shared(string path) => Acquire(path, LOCK_SH);

    public static StateLock Exclusive(string path) => Acquire(path, LOCK_EX);

    private static StateLock Acquire(string path, int op)
    {
        int fd = Open(path, 0x40 /* O_CREAT */ | 0x02 /* O_RDWR */ | 0x80000 /* O_CLOEXEC */, 0x180 /* 0600 */);
        if (fd < 0) throw new IOException($"cannot open lock file {path}: {Marshal.GetLastPInvokeErrorMessage()}");
        while (Flock(fd, op) != 0)
        {
            if (Marshal.GetLastPInvokeError() == 4 /* EINTR */) continue;
            var msg = Marshal.GetLastPInvokeErrorMessage();
            _ = Close(fd);
            throw new IOException($"cannot lock {path}: {msg}");
        }
        return new StateLock(fd);
    }

    public void Dispose()
    {
        if (_fd < 0) return;
        _ = Flock(_fd, LOCK_UN);
        _ = Close(_fd);
        _fd = -1;
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int Flock(int fd, int operation);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
