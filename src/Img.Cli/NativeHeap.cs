using System.Runtime.InteropServices;

namespace Img.Cli;

/// <summary>How glibc's malloc treats large blocks in this process.</summary>
internal static partial class NativeHeap
{
    private const int M_MMAP_THRESHOLD = -3;

    /// <summary>
    /// Blocks of 128 KiB and more are mapped for each allocation and unmapped when freed. glibc otherwise raises that
    /// threshold after the first such block is freed and keeps later ones in its heaps: the deflate state of every
    /// gzip block (about 270 KiB, made and freed on whichever pool thread compresses it) then left memory behind that
    /// grew with the number of blocks written (a 100,000-file COPY peaked 11 MiB higher). A fixed threshold also keeps
    /// the trim threshold at its default, so a freed heap top goes back to the system.
    /// </summary>
    public static void UnmapLargeBlocks()
    {
        // Best effort: another libc (musl) has no mallopt of this kind, and nothing depends on it.
        try { _ = Mallopt(M_MMAP_THRESHOLD, 128 * 1024); }
        catch (EntryPointNotFoundException) { }
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int Mallopt(int param, int value);
}
