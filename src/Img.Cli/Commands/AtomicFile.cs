namespace Img.Cli.Commands;

/// <summary>
/// An output file written under a temporary name beside its destination and renamed into place
/// on success: a failed command leaves no truncated file behind.
/// </summary>
internal sealed class AtomicFile : IAsyncDisposable
{
    private readonly string _destination;
    private readonly string _temp;
    private bool _committed;

    public FileStream Stream { get; }

    public AtomicFile(string destination)
    {
        _destination = Path.GetFullPath(destination);
        if (Directory.Exists(_destination)) throw new IOException($"destination file is a directory: {destination}");
        _temp = Path.Combine(Path.GetDirectoryName(_destination)!, $".{Path.GetFileName(_destination)}.tmp-{Environment.ProcessId}");
        Stream = new FileStream(_temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
    }

    public async Task CommitAsync(CancellationToken ct)
    {
        await Stream.FlushAsync(ct);
        Stream.Flush(flushToDisk: true);
        await Stream.DisposeAsync();
        File.Move(_temp, _destination, overwrite: true);
        _committed = true;
    }

    public async ValueTask DisposeAsync()
    {
        await Stream.DisposeAsync();
        if (!_committed)
        {
            try { File.Delete(_temp); } catch (IOException) { }
        }
    }
}
