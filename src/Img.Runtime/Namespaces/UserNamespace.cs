using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Img.Runtime.Interop;

namespace Img.Runtime.Namespaces;

/// <summary>The command line that re-runs a program inside a new user and mount namespace.</summary>
/// <param name="File">The unshare binary.</param>
/// <param name="Args">unshare's options, <c>--</c>, the program and its arguments.</param>
/// <param name="Warning">Set when the user has no subordinate ids and only a single-id map is possible.</param>
public sealed record ReexecCommand(string File, IReadOnlyList<string> Args, string? Warning);

/// <summary>
/// Puts image-touching commands of an ordinary user inside a user namespace where that user is
/// root and the subordinate ids of /etc/subuid and /etc/subgid are mapped, plus a private mount
/// namespace. A managed runtime cannot unshare its own threads, so the process re-executes itself
/// through util-linux <c>unshare</c> (which uses newuidmap/newgidmap for the subordinate ranges).
/// </summary>
public static class UserNamespace
{
    /// <summary>Set to <c>1</c> in the re-executed child: it is already inside.</summary>
    public const string InsideVariable = "IMG_IN_USERNS";

    /// <summary>A file the re-executed child deletes first thing: proof that unshare got as far as running it.</summary>
    private const string MarkVariable = "IMG_USERNS_MARK";

    /// <summary>The outer process's pid, set in the re-executed child so it can tell when that parent dies.</summary>
    public const string ParentVariable = "IMG_USERNS_PARENT";

    /// <summary>Set to <c>1</c> to never re-execute (unit tests).</summary>
    public const string DisableVariable = "IMG_NO_USERNS";

    /// <summary>The effective uid of this process as the initial namespace sees it (runc's GetParentNSeuid).</summary>
    public static long HostEuid => MapToHost("/proc/self/uid_map", Libc.Geteuid());

    /// <summary>True when this process runs in a user namespace other than the initial one.</summary>
    public static bool InNestedNamespace => !IsIdentityMap("/proc/self/uid_map");

    /// <summary>True when this process has to re-execute itself to become root in a namespace.</summary>
    public static bool NeedsReexec =>
        Environment.GetEnvironmentVariable(DisableVariable) != "1" &&
        string.IsNullOrEmpty(Environment.GetEnvironmentVariable(InsideVariable)) &&
        HostEuid != 0;

    /// <summary>
    /// Re-executes <paramref name="program"/> with <paramref name="args"/> in a user namespace, stdio inherited,
    /// SIGINT/SIGTERM forwarded as SIGINT; returns its exit code (128+signal when killed), or null when not needed.
    /// </summary>
    /// <exception cref="UserNamespaceException">The machine cannot provide the namespace.</exception>
    public static async Task<int?> EnterOrReexecAsync(string program, IReadOnlyList<string> args, TextWriter? warnings, CancellationToken ct)
    {
        if (Isolation.Current.WithoutMounts) return null; // decided earlier in this process
        if (Environment.GetEnvironmentVariable(DisableVariable) != "1" && string.IsNullOrEmpty(Environment.GetEnvironmentVariable(InsideVariable))
            && Isolation.DecideBeforeNamespace(HostEuid == 0) is { } decided)
        {
            if (decided.RecordsOwners)
                warnings?.WriteLine($"warning: {decided.Why}: RUN steps run under proot and img records file owners itself " +
                    "(for the user-namespace rung add a range, e.g. `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 USER`)");
            Isolation.Use(decided);
            return null;
        }
        if (!NeedsReexec) return FollowParent() ? null : 128 + Libc.SIGINT;
        var command = BuildReexecCommand(program, args);
        if (command.Warning is not null) warnings?.WriteLine(command.Warning);
        // No probe run up front (it would double the namespace set-up of every command): the child removes this
        // mark as soon as it runs inside. A failure with the mark still there is unshare's own, explained below.
        var mark = CreateMark();
        // unshare forks helpers that wait for it to enter the namespace; when it fails they wait forever, orphaned,
        // holding its stderr open. As their subreaper img inherits them and ends them (Orphans.KillAll).
        _ = Libc.Prctl(Libc.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        // No place for a mark (TMPDIR missing or read-only): probe first, as the mark would have told after.
        try
        {
            if (mark is null && await FallBackAsync(command, warnings, ct).ConfigureAwait(false)) return null;
            var code = await RunChildAsync(command, mark, ct).ConfigureAwait(false);
            if (code != 0 && mark is not null && File.Exists(mark))
            {
                Orphans.KillAll();
                // The child never ran: nothing was done yet, so the command can run here without a namespace.
                if (await FallBackAsync(command, warnings, ct).ConfigureAwait(false)) return null;
            }
            return code;
        }
        finally
        {
            if (mark is not null)
            {
                try { File.Delete(mark); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
        }
    }

    private static string? CreateMark()
    {
        var mark = Path.Combine(Path.GetTempPath(), $"img-userns-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            using (new FileStream(mark, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.None)) { }
            return mark;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    private static async Task<int> RunChildAsync(ReexecCommand command, string? mark, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(command.File) { UseShellExecute = false };
        foreach (var a in command.Args) psi.ArgumentList.Add(a);
        psi.Environment[InsideVariable] = "1";
        if (mark is not null) psi.Environment[MarkVariable] = mark;
        psi.Environment[ParentVariable] = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        // The child's parent-death signal fires when the thread that forked it ends, not the process;
        // so the fork happens on a thread of its own that lives exactly as long as the child.
        var started = new TaskCompletionSource<Process>(TaskCreationOptions.RunContinuationsAsynchronously);
        var exited = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var owner = new Thread(() =>
        {
            Process p;
            try { p = Process.Start(psi) ?? throw new UserNamespaceException($"cannot start {command.File}"); }
            catch (Exception e) { started.SetException(e); return; }
            started.SetResult(p);
            p.WaitForExit();
            exited.SetResult();
        }) { IsBackground = true, Name = "userns-child" };
        owner.Start();
        using var child = await started.Task.ConfigureAwait(false);
        // unshare execs the program without forking, so the child's pid is the program's pid.
        // The child cancels its work on SIGINT (killing a running container, unmounting, dropping the
        // active snapshot) and ends the default way on a second one, or on SIGTERM, which would leave
        // its container running. So every SIGINT or SIGTERM here reaches the child as exactly one
        // SIGINT, and cancelling the token (which Ctrl-C here does too) only sends one if none went yet.
        var gate = new object();
        int received = 0, sent = 0;
        void SendUpTo(int count)
        {
            lock (gate)
                for (; sent < count; sent++) _ = Libc.Kill(child.Id, Libc.SIGINT);
        }
        void Forward(PosixSignalContext ctx)
        {
            ctx.Cancel = true;
            SendUpTo(Interlocked.Increment(ref received));
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Forward);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Forward);
        using var reg = ct.Register(() => SendUpTo(Math.Max(1, Volatile.Read(ref received))));
        await exited.Task.ConfigureAwait(false);
        return child.ExitCode;
    }

    private static PosixSignalRegistration? s_parentDeath;

    /// <summary>
    /// In the re-executed child: asks the kernel for SIGHUP when the outer img dies (kill -9, OOM) and
    /// turns the first one into one SIGINT, so the child cancels cleanly (container killed, mounts and
    /// active snapshot dropped) instead of building on alone and holding the store's lock. False when
    /// the parent is already gone.
    /// </summary>
    private static bool FollowParent()
    {
        if (Environment.GetEnvironmentVariable(MarkVariable) is { Length: > 0 } mark && !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(InsideVariable)))
        {
            try { File.Delete(mark); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            Environment.SetEnvironmentVariable(MarkVariable, null); // not for RUN steps or helpers started later
        }
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(InsideVariable)) ||
            !int.TryParse(Environment.GetEnvironmentVariable(ParentVariable), NumberStyles.None, CultureInfo.InvariantCulture, out int parent))
            return true;
        if (s_parentDeath is null)
        {
            // The kernel repeats the signal as each thread of the dying parent exits, and a second
            // SIGINT would end the child the default way, mid-cleanup: so SIGHUP, forwarded once.
            int forwarded = 0;
            s_parentDeath = PosixSignalRegistration.Create(PosixSignal.SIGHUP, ctx =>
            {
                ctx.Cancel = true;
                if (Interlocked.Exchange(ref forwarded, 1) == 0) _ = Libc.Kill(Environment.ProcessId, Libc.SIGINT);
            });
            // Set after unshare switched credentials: a credential change clears the setting.
            _ = Libc.Prctl(Libc.PR_SET_PDEATHSIG, Libc.SIGHUP, 0, 0, 0);
        }
        return Libc.Getppid() == parent;
    }

    /// <summary>
    /// The unshare command line that runs <paramref name="program"/> as root in a new user and mount
    /// namespace with the current user's subordinate ranges (single-id map when there are none).
    /// </summary>
    public static ReexecCommand BuildReexecCommand(string program, IReadOnlyList<string> args)
    {
        CheckKernelAllows();
        var unshare = FindBinary("unshare") ?? throw new UserNamespaceException("unshare not found: install the util-linux package");
        uint uid = Libc.Geteuid(), gid = Libc.Getegid();
        var names = UserNames();
        var uidRange = SubordinateIds.Largest(names.SelectMany(n => SubordinateIds.Read("/etc/subuid", n, uid)).Distinct().ToList());
        var gidRange = SubordinateIds.Largest(names.SelectMany(n => SubordinateIds.Read("/etc/subgid", n, uid)).Distinct().ToList());
        // util-linux 2.38 honours one --map-users/--map-groups, so the largest range is mapped at id 1.
        var a = new List<string> { "--user", "--map-root-user" };
        string? warning = null;
        if (uidRange is not null || gidRange is not null)
        {
            if (FindBinary("newuidmap") is null || FindBinary("newgidmap") is null)
                throw new UserNamespaceException("newuidmap not found: install the uidmap package");
            if (uidRange is { } u) a.Add(string.Create(CultureInfo.InvariantCulture, $"--map-users={u.Start},1,{u.Count}"));
            if (gidRange is { } g) a.Add(string.Create(CultureInfo.InvariantCulture, $"--map-groups={g.Start},1,{g.Count}"));
        }
        if (uidRange is null || gidRange is null)
            warning = $"warning: no subordinate {(uidRange is null ? "uid" : "gid")} range for user {names.FirstOrDefault() ?? uid.ToString(CultureInfo.InvariantCulture)} in /etc/sub{(uidRange is null ? "uid" : "gid")}: " +
                      "only your own id is mapped, so files owned by other ids cannot be created, chown in RUN fails and package managers like apt may fail " +
                      "(add a range, e.g. `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 USER`)";
        a.AddRange(["--mount", "--propagation", "private", "--", program]);
        a.AddRange(args);
        return new ReexecCommand(unshare, a, warning);
    }

    /// <summary>One line per fact about the namespace in use, for <c>img version</c> and <c>--debug</c>.</summary>
    public static string Describe()
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"host euid: {HostEuid}, in user namespace: {(InNestedNamespace ? "yes" : "no")}\n");
        sb.Append("uid_map: ").Append(MapText("/proc/self/uid_map")).Append('\n');
        sb.Append("gid_map: ").Append(MapText("/proc/self/gid_map"));
        return sb.ToString();
    }

    private static string MapText(string path) =>
        File.Exists(path) ? string.Join("; ", File.ReadAllLines(path).Select(l => string.Join(' ', l.Split(' ', StringSplitOptions.RemoveEmptyEntries)))) : "unavailable";

    internal static IReadOnlyList<string> UserNames()
    {
        var names = new List<string>();
        foreach (var n in new[] { Environment.UserName, Environment.GetEnvironmentVariable("USER") })
            if (!string.IsNullOrEmpty(n) && !names.Contains(n)) names.Add(n);
        return names;
    }

    private static void CheckKernelAllows()
    {
        if (ReadSysctl("/proc/sys/kernel/unprivileged_userns_clone") == "0")
            throw new UserNamespaceException("unprivileged user namespaces are disabled: enable unprivileged user namespaces: sysctl kernel.unprivileged_userns_clone=1");
        if (ReadSysctl("/proc/sys/user/max_user_namespaces") == "0")
            throw new UserNamespaceException("user namespaces are disabled: enable unprivileged user namespaces: sysctl user.max_user_namespaces=15000");
    }

    /// <summary>
    /// Probes the namespace; when the kernel refuses it and the isolation is <c>auto</c> with proot installed, says so
    /// in one line and makes this process use the namespace-less rung (true). Otherwise the refusal is the error.
    /// </summary>
    private static async Task<bool> FallBackAsync(ReexecCommand command, TextWriter? warnings, CancellationToken ct)
    {
        try
        {
            await ProbeAsync(command, ct).ConfigureAwait(false);
            return false;
        }
        catch (UserNamespaceException e) when (Isolation.Requested() == "auto" && Isolation.ProotBinary is not null)
        {
            var why = "cannot create a user namespace (" + e.Message + ")";
            warnings?.WriteLine($"warning: {why}: RUN steps run under proot and img records file owners itself");
            Isolation.Use(new Isolation(IsolationMode.Proot, why));
            return true;
        }
    }

    /// <summary>Runs the same unshare with <c>true</c> so a refusal becomes one actionable line, not a failed command.</summary>
    private static async Task ProbeAsync(ReexecCommand command, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(command.File) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        int sep = command.Args.ToList().IndexOf("--");
        foreach (var a in command.Args.Take(sep)) psi.ArgumentList.Add(a);
        psi.ArgumentList.Add("--");
        psi.ArgumentList.Add("true");
        using var p = Process.Start(psi) ?? throw new UserNamespaceException($"cannot start {command.File}");
        var stderr = p.StandardError.ReadToEndAsync(ct);
        _ = p.StandardOutput.ReadToEndAsync(ct);
        await p.WaitForExitAsync(ct).ConfigureAwait(false);
        if (p.ExitCode == 0) return;
        Orphans.KillAll(); // its waiting helpers hold the pipe: end them, then the read sees EOF
        string text;
        try { text = await stderr.WaitAsync(TimeSpan.FromSeconds(2), ct).ConfigureAwait(false); }
        catch (TimeoutException) { text = ""; }
        throw new UserNamespaceException(UserNamespaceDiagnosis.Explain(text, UserNamespaceDiagnosis.Facts.Read()));
    }

    private static string? ReadSysctl(string path)
    {
        try { return File.Exists(path) ? File.ReadAllText(path).Trim() : null; }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    internal static string? FindBinary(string name, params string[] extraDirs)
    {
        if (name.Contains('/')) return File.Exists(name) ? name : null;
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(extraDirs).Concat(["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"]);
        foreach (var d in dirs)
        {
            var p = Path.Combine(d, name);
            if (File.Exists(p)) return p;
        }
        return null;
    }

    private static bool IsIdentityMap(string path)
    {
        if (!File.Exists(path)) return true;
        var lines = File.ReadAllLines(path).Where(l => l.Trim().Length > 0).ToList();
        if (lines.Count != 1) return false;
        var f = lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return f.Length == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295";
    }

    private static long MapToHost(string mapFile, uint id)
    {
        if (!File.Exists(mapFile)) return id;
        foreach (var line in File.ReadAllLines(mapFile))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length != 3 || !long.TryParse(f[0], out var inside) || !long.TryParse(f[1], out var outside) || !long.TryParse(f[2], out var len)) continue;
            if (id >= inside && id < inside + len) return outside + (id - inside);
        }
        return -1; // unmapped: certainly not host root
    }
}
