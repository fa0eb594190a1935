using System.Globalization;
using Img.Cli.Framework;
using Img.Runtime.Namespaces;
using Img.Runtime.Oci;
using Img.Runtime.Snapshots;

namespace Img.Cli.Commands;

/// <summary>
/// <c>img info</c>: one screen of what this machine or container allows and what img will use, and for each missing
/// piece the change that gives it. It never enters the user namespace itself: every answer comes from a short,
/// time-bounded probe (<c>unshare … true</c>), so it also works where image commands cannot.
/// </summary>
public sealed class InfoCommand : Command
{
    public override string Name => "info";
    public override string Short => "Display what this environment allows and what img will use.";
    public override string Use => "info";

    public override Task<int> RunAsync(CommandContext context, ParsedArgs args, CancellationToken ct)
    {
        if (args.Positionals.Count > 0) throw new UsageException("no arguments expected");
        var o = context.Out;
        var fixes = new List<string>();
        var facts = UserNamespaceDiagnosis.Facts.Read();
        var user = CurrentUser.Read();
        bool root = user.IsRoot;
        var (name, subuid, subgid) = (user.Name, user.SubUids, user.SubGids);
        o.WriteLine("user:");
        Line(o, "name", name);
        Line(o, "uid / gid", string.Create(CultureInfo.InvariantCulture, $"{user.Uid} / {user.Gid}"));
        Line(o, "subuid", subuid?.ToString() ?? "none");
        Line(o, "subgid", subgid?.ToString() ?? "none");
        Line(o, "container", facts.InContainer ? "yes" : "no sign of one");
        if (!root && (subuid is null || subgid is null))
            fixes.Add($"subordinate ids (for the user-namespace rung: a faster RUN than proot's, overlay snapshots): usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {name}" +
                      " (in an image: a line such as `" + name + ":100000:65536` in /etc/subuid and /etc/subgid)");

        o.WriteLine("user namespace:");
        Line(o, "seccomp", facts.SeccompMode switch { 0 => "disabled", 1 => "strict", 2 => "filter", _ => "unknown" });
        Line(o, "max userns", facts.MaxUserNamespaces ?? "unknown");
        var newuidmap = IdMapper.Of("newuidmap");
        var newgidmap = IdMapper.Of("newgidmap");
        Line(o, "newuidmap", IdMapper.Describe(newuidmap));
        Line(o, "newgidmap", IdMapper.Describe(newgidmap));
        string? refusal = null;
        if (root) Line(o, "possible", "not needed (root)");
        else
        {
            refusal = UserNamespaceProbe.Refusal();
            var how = subuid is null || subgid is null ? "your own id only, no subordinate ranges"
                : newuidmap == IdMapperPrivilege.FileCapabilities ? "newuidmap/newgidmap with file capabilities"
                : newuidmap == IdMapperPrivilege.Setuid ? "newuidmap/newgidmap setuid root"
                : "newuidmap/newgidmap";
            Line(o, "possible", refusal is null ? $"yes, through {how}" : "no");
            if (refusal is not null) fixes.Add(refusal);
            if (newuidmap == IdMapperPrivilege.Missing || newgidmap == IdMapperPrivilege.Missing)
                fixes.Add("newuidmap/newgidmap: apt-get install uidmap (then, for a container, setcap cap_setuid+ep /usr/bin/newuidmap && setcap cap_setgid+ep /usr/bin/newgidmap)");
        }

        o.WriteLine("RUN isolation:");
        var rung = Rung(root, refusal, out var rungError);
        Line(o, "rung", rung is null ? $"none ({rungError})" : rung.Mode == IsolationMode.Proot ? $"proot, no namespace ({rung.Why})" : "user namespace + OCI runtime");
        if (rung is not null) Line(o, "cost", rung.Cost);
        if (rung is null && Isolation.ProotBinary is null) fixes.Add("builds without a user namespace (RUN under proot): apt-get install proot");
        var usable = (root || refusal is null) && rung?.Mode != IsolationMode.Proot;
        if (usable)
        {
            var sandbox = ProcessSandbox.Probe(newUserNamespace: !root);
            Line(o, "pid namespace", sandbox.PidNamespace ? "yes" : $"no ({sandbox.Why})");
            Line(o, "fresh /proc", sandbox.FreshProc ? "yes" : $"no ({sandbox.Why})");
            Line(o, "RUN steps", sandbox.FreshProc ? "own PID namespace and /proc" : "share img's PID namespace; /proc bound read-only");
            if (!sandbox.FreshProc)
                fixes.Add("PID isolation for RUN (a fresh /proc): docker run --security-opt systempaths=unconfined (or --privileged); " +
                          "Kubernetes: securityContext.procMount: Unmasked (with hostUsers: false) or securityContext.privileged: true");
        }
        else if (rung?.Mode == IsolationMode.Proot) Line(o, "pid namespace", "no (proot: RUN shares img's PID namespace)");
        else Line(o, "pid namespace", "unknown (no user namespace)");

        o.WriteLine("snapshots:");
        if (usable)
        {
            var auto = AutoBackendProbe.Probe(context.StateDir);
            Line(o, "auto", auto.Backend);
            if (auto.OverlayRefusal is not null) Line(o, "overlayfs", $"no ({auto.OverlayRefusal})");
            if (auto.FuseRefusal is not null) Line(o, "fuse-overlayfs", $"no ({auto.FuseRefusal})");
            if (auto.Backend == AutoBackendProbe.Unwritable)
                fixes.Add($"a writable state directory: chown {name} {context.StateDir} (a docker volume takes the owner of the image's directory " +
                          "it is mounted on; Kubernetes: securityContext.fsGroup), or --state DIR");
            if (auto.Backend == "native")
                fixes.Add("copy-on-write snapshots (native copies every layer): put the state directory on a volume, as overlayfs cannot sit on a " +
                          "container's own overlay root (docker run -v img-state:/home/user/.local/share/img; Kubernetes: an emptyDir), " +
                          "or apt-get install fuse-overlayfs and give the container /dev/fuse (docker run --device /dev/fuse)");
        }
        else if (rung?.Mode == IsolationMode.Proot) Line(o, "auto", "native (nothing can be mounted on this rung)");
        else Line(o, "auto", "unknown (no user namespace)");
        Line(o, "/dev/fuse", FuseDevice());
        Line(o, "state", context.StateDir);

        o.WriteLine("OCI runtime:");
        try
        {
            var runtime = RuntimeInfo.Find();
            Line(o, "runtime", $"{runtime.Name} ({runtime.Path})");
            if (runtime.VersionLines.Count > 0) Line(o, "version", runtime.VersionLines[0]);
        }
        catch (InvalidOperationException e)
        {
            Line(o, "runtime", $"none ({e.Message})");
            fixes.Add("RUN steps need an OCI runtime: apt-get install runc (or crun)");
        }
        Line(o, "cgroups", RuntimeInfo.CgroupMode() + " (rootless RUN uses none)");

        if (fixes.Count == 0) o.WriteLine("missing: nothing");
        else
        {
            o.WriteLine("missing:");
            foreach (var f in fixes) o.WriteLine($" - {f}");
        }
        return Task.FromResult(0);
    }

    /// <summary>The rung an image command would use here, decided as <see cref="UserNamespace"/> does, without entering anything.</summary>
    private static Isolation? Rung(bool root, string? refusal, out string? error)
    {
        error = null;
        try
        {
            if (Isolation.DecideBeforeNamespace(root) is { } decided) return decided;
            if (root || refusal is null) return new Isolation(IsolationMode.Namespaces, root ? "root with CAP_SYS_ADMIN" : "a user namespace");
            if (Isolation.Requested() == "auto" && Isolation.ProotBinary is not null)
                return new Isolation(IsolationMode.Proot, "cannot create a user namespace");
            error = "no user namespace and no proot";
        }
        catch (UserNamespaceException e) { error = e.Message; }
        return null;
    }

    private static void Line(TextWriter o, string key, string value) => o.WriteLine($" {key,-14} : {value}");

    private static string FuseDevice()
    {
        if (!File.Exists("/dev/fuse")) return "absent";
        try
        {
            using var _ = File.Open("/dev/fuse", FileMode.Open, FileAccess.ReadWrite);
            return "usable";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return $"not usable ({e.Message})"; }
    }
}
