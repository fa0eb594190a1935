using Img.Runtime.Interop;

namespace Img.Runtime.Namespaces;

/// <summary>
/// Whether a RUN step can have a PID namespace of its own with a fresh procfs (BuildKit's process sandbox). The kernel
/// refuses a new procfs mount while the visible /proc has locked mounts over parts of it — docker's and Kubernetes'
/// masked paths — so an unprivileged container without <c>systempaths=unconfined</c> or <c>procMount: Unmasked</c>
/// cannot have one; RUN then shares the container's PID namespace and binds its /proc (BuildKit's NoProcessSandbox).
/// </summary>
/// <param name="PidNamespace">A PID namespace can be made.</param>
/// <param name="FreshProc">A procfs can be mounted in it.</param>
/// <param name="Why">The refusal, when either is false.</param>
public sealed record ProcessSandbox(bool PidNamespace, bool FreshProc, string? Why)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private static readonly Lazy<ProcessSandbox> s_here = new(() => Probe(newUserNamespace: Libc.Geteuid() != 0));

    /// <summary>
    /// The answer for RUN steps of this process, probed once (inside img's user namespace, or as root) and cached.
    /// </summary>
    public static ProcessSandbox Here => s_here.Value;

    /// <summary>
    /// Asks the kernel: <c>unshare --pid --fork --mount-proc true</c>, with <c>--user --map-root-user</c> when
    /// <paramref name="newUserNamespace"/> (an ordinary user outside img's namespace, as <c>img info</c> is).
    /// </summary>
    public static ProcessSandbox Probe(bool newUserNamespace)
    {
        var unshare = UserNamespace.FindBinary("unshare");
        if (unshare is null) return new ProcessSandbox(false, false, "unshare not found: install the util-linux package");
        List<string> Args(bool mountProc)
        {
            var a = new List<string>();
            if (newUserNamespace) a.AddRange(["--user", "--map-root-user"]);
            a.AddRange(["--pid", "--fork"]);
            if (mountProc) a.Add("--mount-proc");
            a.Add("true");
            return a;
        }
        var fresh = ProbeProcess.Run(unshare, Args(mountProc: true), Timeout);
        if (fresh.Succeeded) return new ProcessSandbox(true, true, null);
        var pid = ProbeProcess.Run(unshare, Args(mountProc: false), Timeout);
        return new ProcessSandbox(pid.Succeeded, false, pid.Succeeded ? fresh.Why : pid.Why);
    }
}
