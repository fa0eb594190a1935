namespace Img.Content;

/// <summary>
/// An output file written under a temporary name beside its destination and renamed into place
/// on success: a failed command leaves no truncated file behind. Used by <c>save</c> and the
/// build's file exporters.
/// </summary>
public sealed class AtomicFile : IAsyncDisposable
{
    private readonly string _destination;
    private readonly string _temp;
    private bool _committed;

    private readonly string? _pendingNote;

    public FileStream Stream { get; }

    /// <param name="destination">The file to write.</param>
    /// <param name="store">When given, the temp file is noted in the store's state directory, so that the next img
    /// command of any kind removes it if this process is killed (not only the next writer of the same file).</param>
    public AtomicFile(string destination, LocalStore? store = null)
    {
        _destination = Path.GetFullPath(destination);
        if (Directory.Exists(_destination)) throw new IOException($"destination file is a directory: {destination}");
        var dir = Path.GetDirectoryName(_destination)!;
        Directory.CreateDirectory(dir);
        var prefix = $".{Path.GetFileName(_destination)}.tmp-";
        RemoveStale(dir, prefix);
        _temp = Path.Combine(dir, prefix + Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        _pendingNote = store is null ? null : PendingOutputs.Note(store.StateDir, _temp);
        Stream = new FileStream(_temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
    }

    /// <summary>
    /// Deletes temp files of earlier writers of the same destination that no longer run: a process
    /// killed with SIGKILL (or a power cut) never reaches its cleanup.
    /// </summary>
    private static void RemoveStale(string dir, string prefix)
    {
        try
        {
            foreach (var file in Directory.EnumerateFiles(dir, prefix + "*"))
                if (int.TryParse(Path.GetFileName(file)[prefix.Length..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int pid) &&
                    pid != Environment.ProcessId && !Directory.Exists($"/proc/{pid}"))
                    File.Delete(file);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>Flushes to disk and renames the file into place.</summary>
    public async Task CommitAsync(CancellationToken ct)
    {
        await Stream.FlushAsync(ct).ConfigureAwait(false);
        Stream.Flush(flushToDisk: true);
        await Stream.DisposeAsync().ConfigureAwait(false);
        File.Move(_temp, _destination, overwrite: true);
        _committed = true;
        PendingOutputs.Forget(_pendingNote);
    }

    public async ValueTask DisposeAsync()
    {
        await Stream.DisposeAsync().ConfigureAwait(false);
        if (!_committed)
        {
            try { File.Delete(_temp); } catch (IOException) { }
            PendingOutputs.Forget(_pendingNote);
        }
    }
}
