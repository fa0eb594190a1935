namespace FuzzDockerfile;

/// <summary>
/// Runs inputs one at a time on a dedicated thread so the caller can time each out. A thread stuck in a hang
/// cannot be stopped in .NET; it is abandoned and a fresh worker takes over.
/// </summary>
internal sealed class Worker
{
    private readonly SemaphoreSlim _ready = new(0);
    private readonly SemaphoreSlim _done = new(0);
    private string _input = "";
    private Exception? _error;

    public Worker()
    {
        var thread = new Thread(Loop) { IsBackground = true, Name = "fuzz-worker" };
        thread.Start();
    }

    /// <summary>Runs <paramref name="input"/>; null on timeout, otherwise the unexpected exception or none.</summary>
    public (bool Finished, Exception? Error) Run(string input, TimeSpan timeout, Func<bool> memoryOk)
    {
        _input = input;
        _error = null;
        _ready.Release();
        var deadline = DateTime.UtcNow + timeout;
        while (!_done.Wait(50))
        {
            if (DateTime.UtcNow > deadline || !memoryOk())
                return (false, null);
        }
        return (true, _error);
    }

    private void Loop()
    {
        while (true)
        {
            _ready.Wait();
            try
            {
                Targets.Run(_input);
            }
            catch (Exception e)
            {
                _error = e;
            }
            _done.Release();
        }
    }
}
