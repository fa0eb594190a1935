using System.Diagnostics;
using Img.Runtime.Namespaces;

namespace Img.Runtime.Oci;

/// <summary>
/// Starts the OCI runtime so that it cannot outlive this process: through util-linux <c>setpriv --pdeathsig KILL</c>,
/// so the kernel kills the runtime when img dies, even by SIGKILL (and runc's death takes the container's init, and
/// with it the container, along). The parent-death signal fires when the thread that forked the child ends, not
/// the process, so the fork happens on a thread of its own that lives exactly as long as the child.
/// </summary>
internal static class ParentBoundProcess
{
    public static async Task<Process> StartAsync(ProcessStartInfo psi)
    {
        if (UserNamespace.FindBinary("setpriv") is { } setpriv)
        {
            psi.ArgumentList.Insert(0, psi.FileName);
            psi.ArgumentList.Insert(0, "--");
            psi.ArgumentList.Insert(0, "KILL");
            psi.ArgumentList.Insert(0, "--pdeathsig");
            psi.FileName = setpriv;
        }
        var started = new TaskCompletionSource<Process>(TaskCreationOptions.RunContinuationsAsynchronously);
        var owner = new Thread(() =>
        {
            Process p;
            try { p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {psi.FileName}"); }
            catch (Exception e) { started.SetException(e); return; }
            started.SetResult(p);
            // The caller disposes the process once it has exited; this thread only has to outlive the child.
            try { p.WaitForExit(); }
            catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException) { }
        }) { IsBackground = true, Name = "runtime-owner" };
        owner.Start();
        return await started.Task.ConfigureAwait(false);
    }

    /// <summary>
    /// Waits for a step's process <paramref name="p"/> and the copies of its output. A cancel (Ctrl-C, the outer img's
    /// death) sends SIGKILL to it and everything under it — no stop request to start first, so the step ends at once —
    /// then waits for it and its output before rethrowing.
    /// </summary>
    public static async Task WaitAsync(Process p, Task copyOut, Task copyErr, CancellationToken ct)
    {
        try
        {
            await p.WaitForExitAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            await Task.WhenAll(copyOut, copyErr).ConfigureAwait(false);
            throw;
        }
        await Task.WhenAll(copyOut, copyErr).ConfigureAwait(false);
    }
}
