using System.Runtime.InteropServices;

namespace Img.Runtime.Interop;

/// <summary>The few system calls the sandbox needs that .NET does not wrap.</summary>
internal static partial class Libc
{
    public const int SIGHUP = 1, SIGINT = 2, SIGKILL = 9, SIGTERM = 15;
    public const int MNT_DETACH = 2;
    public const ulong MS_RDONLY = 1, MS_NOSUID = 2, MS_NODEV = 4, MS_REMOUNT = 32, MS_BIND = 4096, MS_REC = 16384;

    [LibraryImport("libc", EntryPoint = "mount", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Mount(string? source, string target, string? fstype, ulong flags, string? data);

    [LibraryImport("libc", EntryPoint = "umount2", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Umount2(string target, int flags);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int sig);

    [LibraryImport("libc", EntryPoint = "lchown", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Lchown(string path, int uid, int gid);

    public const int PR_SET_PDEATHSIG = 1;
    public const int PR_SET_DUMPABLE = 4;
    public const int PR_SET_CHILD_SUBREAPER = 36;

    [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true)]
    public static partial int Prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    [LibraryImport("libc", EntryPoint = "getppid")]
    public static partial int Getppid();

    [LibraryImport("libc", EntryPoint = "geteuid")]
    public static partial uint Geteuid();

    [LibraryImport("libc", EntryPoint = "getegid")]
    public static partial uint Getegid();

    public static string LastError() => Marshal.GetLastPInvokeErrorMessage();

    public static int LastErrno() => Marshal.GetLastPInvokeError();
}
