using System.Diagnostics;
using Img.Runtime.Interop;

namespace Img.Runtime.Namespaces;

/// <summary>What one probe command did: its exit code (-1 when it had to be killed) and the first line of its stderr.</summary>
public sealed record ProbeResult(int ExitCode, string Stderr)
{
    /// <summary>True when the command exited 0.</summary>
    public bool Succeeded => ExitCode == 0;

    /// <summary>The first non-empty line of stderr, or the exit status.</summary>
    public string Why => Stderr.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0) ??
                         (ExitCode < 0 ? "timed out" : $"exit status {ExitCode}");
}

/// <summary>
/// Runs a short probe command (<c>unshare … true</c>) with a time bound. unshare's id-mapping helpers wait forever when it
/// fails; as their subreaper this process inherits and ends them, so a probe never hangs and never leaves one behind.
/// </summary>
internal static class ProbeProcess
{
    public static ProbeResult Run(string file, IReadOnlyList<string> args, TimeSpan timeout)
    {
        _ = Libc.Prctl(Libc.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        // In a session of its own (setsid execs in place: same pid), so the helpers it leaves are told apart from the
        // other children of a running build by their process group.
        var setsid = UserNamespace.FindBinary("setsid");
        var psi = new ProcessStartInfo(setsid ?? file) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true };
        if (setsid is not null) psi.ArgumentList.Add(file);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        p.StandardInput.Close();
        var stderr = p.StandardError.ReadToEndAsync();
        _ = p.StandardOutput.ReadToEndAsync();
        int code;
        if (p.WaitForExit(timeout)) code = p.ExitCode;
        else
        {
            try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            p.WaitForExit();
            code = -1;
        }
        // Helpers still waiting hold the pipe: end them, then the read sees EOF. Without setsid they share img's group
        // and cannot be told from the build's own children: they are left (the read below gives up after 2 s).
        if (setsid is not null) Orphans.KillGroup(p.Id);
        string text;
        try { text = stderr.Wait(TimeSpan.FromSeconds(2)) ? stderr.Result : ""; }
        catch (AggregateException) { text = ""; }
        return new ProbeResult(code, text);
    }
}
