namespace Img.Runtime.Namespaces;

/// <summary>Whether this user can have the namespace image commands run in, asked without entering it (<c>img info</c>).</summary>
public static class UserNamespaceProbe
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Runs the very unshare command line image commands use, with <c>true</c> as the program; null when it worked,
    /// else the one line that names the cause and the fix.
    /// </summary>
    public static string? Refusal()
    {
        ReexecCommand command;
        try { command = UserNamespace.BuildReexecCommand("true", []); }
        catch (UserNamespaceException e) { return e.Message; }
        var r = ProbeProcess.Run(command.File, command.Args, Timeout);
        if (r.Succeeded) return null;
        if (r.ExitCode < 0) return $"cannot create a user namespace: unshare did not finish within {Timeout.TotalSeconds:0} seconds";
        return UserNamespaceDiagnosis.Explain(r.Stderr, UserNamespaceDiagnosis.Facts.Read());
    }
}
