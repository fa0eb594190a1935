using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Img.TestSupport;

namespace Img.IntegrationTests;

/// <summary>A process by pid and start time (pids are reused), with its command name.</summary>
public sealed record TrackedProcess(int Pid, long StartTime, string Comm)
{
    public bool IsAlive() => ProcTable.Stat(Pid) is { } now && now.StartTime == StartTime && now.State is not ('Z' or 'X');

    /// <summary>Dead and reaped: its pid no longer names it (a zombie still shows in /proc, where img looks).</summary>
    public bool IsGone() => ProcTable.Stat(Pid) is not { } now || now.StartTime != StartTime;

    public override string ToString() => $"{Comm}[{Pid}]";
}

/// <summary>Reads /proc: a process's parent, start time, name and state; a process's descendants.</summary>
public static class ProcTable
{
    public static (int Parent, long StartTime, string Comm, char State)? Stat(int pid)
    {
        string text;
        try { text = File.ReadAllText($"/proc/{pid}/stat"); }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
        // pid (comm) state ppid … starttime is field 22; comm may hold spaces and parentheses.
        var close = text.LastIndexOf(')');
        var comm = text[(text.IndexOf('(') + 1)..close];
        var rest = text[(close + 2)..].Split(' ');
        return (int.Parse(rest[1]), long.Parse(rest[19]), comm, rest[0][0]);
    }

    public static TrackedProcess? Track(int pid) => Stat(pid) is { } s ? new TrackedProcess(pid, s.StartTime, s.Comm) : null;

    public static List<TrackedProcess> Descendants(int root)
    {
        var all = new Dictionary<int, (int Parent, long StartTime, string Comm, char State)>();
        foreach (var d in Directory.EnumerateDirectories("/proc"))
            if (int.TryParse(Path.GetFileName(d), out var pid) && Stat(pid) is { } s) all[pid] = s;
        var result = new List<TrackedProcess>();
        var frontier = new Queue<int>([root]);
        while (frontier.Count > 0)
        {
            var parent = frontier.Dequeue();
            foreach (var (pid, s) in all)
            {
                if (s.Parent != parent) continue;
                result.Add(new TrackedProcess(pid, s.StartTime, s.Comm));
                frontier.Enqueue(pid);
            }
        }
        return result;
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static extern int Kill(int pid, int signal);

    public const int SIGKILL = 9, SIGSTOP = 19;
}

/// <summary>
/// One img command started as the test user in the background, that the test can SIGKILL with every
/// process under it (the namespace child, runc/crun and the container's processes) at any moment.
/// </summary>
public sealed class RunningImg : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _out = new(), _err = new();

    private RunningImg(Process process)
    {
        _process = process;
        Root = ProcTable.Track(process.Id);
    }

    /// <summary>The outer img process as started (null when it ended before it could be looked at).</summary>
    public TrackedProcess? Root { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public static RunningImg Start(ImgCli img, params string[] args)
    {
        var (file, wrapped) = TestUser.Wrap(RepoPaths.ImgBinary, ["--state", img.StateDir, .. args], img.Env);
        var psi = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true, WorkingDirectory = Path.GetTempPath() };
        foreach (var a in wrapped) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        var r = new RunningImg(p);
        p.OutputDataReceived += (_, e) => { lock (r._out) r._out.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { lock (r._err) r._err.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return r;
    }

    public string Stdout { get { lock (_out) return _out.ToString(); } }

    public string Stderr { get { lock (_err) return _err.ToString(); } }

    public int ExitCode => _process.ExitCode;

    public async Task<int> WaitAsync(TimeSpan limit)
    {
        using var cts = new CancellationTokenSource(limit);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    /// <summary>
    /// Stops the whole tree top-down (a stopped process cannot fork, and a child of a killed parent
    /// would be re-parented out of sight), then SIGKILLs every process in it. Returns the processes
    /// killed, so the caller can check that none of them survives; empty when img had already ended.
    /// </summary>
    public async Task<List<TrackedProcess>> KillTreeAsync()
    {
        var stopped = new Dictionary<int, TrackedProcess>();
        if (Root is null || !Root.IsAlive())
        {
            await _process.WaitForExitAsync();
            return [];
        }
        ProcTable.Kill(Root.Pid, ProcTable.SIGSTOP);
        stopped[Root.Pid] = Root;
        for (int round = 0; round < 50; round++)
        {
            bool grew = false;
            foreach (var d in ProcTable.Descendants(Root.Pid))
                if (stopped.TryAdd(d.Pid, d)) { ProcTable.Kill(d.Pid, ProcTable.SIGSTOP); grew = true; }
            if (!grew) break;
        }
        foreach (var p in stopped.Values)
            if (p.IsAlive()) ProcTable.Kill(p.Pid, ProcTable.SIGKILL);
        await _process.WaitForExitAsync();
        // Wait for the rest to be reaped (by init once their parents died): img tells a dead writer's
        // temp files by its pid missing from /proc.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (stopped.Values.Any(p => !p.IsGone()) && DateTime.UtcNow < deadline) await Task.Delay(20);
        return stopped.Values.ToList();
    }

    public void Dispose()
    {
        try { if (!_process.HasExited) _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        _process.Dispose();
    }
}
