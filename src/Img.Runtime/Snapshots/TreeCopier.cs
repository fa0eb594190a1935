using System.Diagnostics;

namespace Img.Runtime.Snapshots;

/// <summary>
/// Copies a directory tree keeping owners, modes, times, xattrs, symlinks, hardlinks and device nodes,
/// through GNU <c>cp -a --reflink=auto</c>: it clones extents (FICLONE) where the filesystem can, else
/// uses copy_file_range, else reads and writes.
/// </summary>
public static class TreeCopier
{
    /// <summary>Copies the contents of <paramref name="source"/> into the existing directory <paramref name="destination"/>.</summary>
    public static async Task CopyAsync(string source, string destination, CancellationToken ct)
    {
        var psi = new ProcessStartInfo("cp") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "-a", "--reflink=auto", "--", source.TrimEnd('/') + "/.", destination }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new IOException("cannot start cp");
        var err = p.StandardError.ReadToEndAsync(CancellationToken.None);
        _ = p.StandardOutput.ReadToEndAsync(CancellationToken.None);
        try
        {
            await p.WaitForExitAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            p.Kill();
            await p.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            throw;
        }
        if (p.ExitCode != 0) throw new IOException($"cannot copy {source} to {destination}: {(await err.ConfigureAwait(false)).Trim()}");
    }
}
