using System.Diagnostics;
using Img.Runtime.Namespaces;

namespace Img.Runtime.Oci;

/// <summary>
/// A small shell beside each running container that deletes it (<c>runtime delete -f</c>) as soon as img is gone:
/// it blocks reading a pipe only img holds, and the kernel closes that pipe when img dies, even by SIGKILL. So a
/// container never outlives both img processes (the runtime's own death does not stop it). When the container
/// ends normally, img kills the reaper first.
/// </summary>
internal sealed class ContainerReaper : IDisposable
{
    // "$@" is the delete command line; nothing is printed, nothing is read but the end of the pipe.
    private const string Script = "read _ ; exec \"$@\" >/dev/null 2>&1";

    private readonly Process? _shell;

    private ContainerReaper(Process? shell) => _shell = shell;

    /// <summary>Starts the reaper for container <paramref name="deleteArgs"/>' id; a machine without /bin/sh gets none.</summary>
    public static ContainerReaper Start(string runtime, IEnumerable<string> deleteArgs)
    {
        if (UserNamespace.FindBinary("sh") is not { } sh) return new ContainerReaper(null);
        var psi = new ProcessStartInfo(sh) { UseShellExecute = false, RedirectStandardInput = true };
        foreach (var a in new[] { "-c", Script, "img-reaper", runtime }.Concat(deleteArgs)) psi.ArgumentList.Add(a);
        try { return new ContainerReaper(Process.Start(psi)); }
        catch (System.ComponentModel.Win32Exception) { return new ContainerReaper(null); }
    }

    /// <summary>The container ended with img alive: the reaper goes without deleting anything (img does that itself).</summary>
    public void Dispose()
    {
        if (_shell is null) return;
        try
        {
            if (!_shell.HasExited) _shell.Kill();
            _shell.WaitForExit();
        }
        catch (InvalidOperationException) { }
        _shell.Dispose();
    }
}
