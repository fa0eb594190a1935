using System.Globalization;
using System.Security.Cryptography;
using Img.Fs;
using Img.Runtime.Interop;
using Img.Runtime.Namespaces;
using Img.Runtime.Oci;
using Img.Runtime.Snapshots;

namespace Img.Runtime.Proot;

/// <summary>
/// Runs RUN steps without any namespace or privilege, for settings where neither a user namespace nor a mount can be
/// made (docker's default seccomp, Pod Security "Restricted", no subordinate ids). proot traces the step with ptrace
/// (allowed on one's own children under default seccomp and no_new_privs) and translates every path, so the rootfs is
/// the step's <c>/</c> and only the container's /proc, /dev, /sys and the step's <c>--mount</c>s are bound into it;
/// <c>-0</c> fakes uid 0 (chown then succeeds without changing anything: owners are img's to record).
/// /proc entries of the processes that exist when the step starts and belong to this user (img, its parents) are
/// hidden behind empty directories, and img is not dumpable, so a step cannot walk /proc/PID/root or /proc/PID/fd to
/// the host's files, the state directory or the credentials file. It shares img's PID namespace and can signal img.
/// </summary>
public sealed class ProotExecutor(string proot, string stateDir) : IStepExecutor
{
    private const UnixFileMode PrivateDir = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private static int s_toldLimits;

    /// <inheritdoc/>
    public string Describe => "proot";

    /// <summary>Debug lines (<c>-d</c>); null for none.</summary>
    public Action<string>? Log { get; init; }

    private string CacheMountsDir => Path.Combine(stateDir, "cache-mounts");

    /// <inheritdoc/>
    public async Task<int> RunAsync(RunSpec spec, Stream stdout, Stream stderr, CancellationToken ct = default)
    {
        if (spec.Network == RunNetwork.None)
            throw new InvalidOperationException("RUN --network=none needs a network namespace, which cannot be made here (RUN runs under proot, without namespaces)");
        var rootfs = Path.GetFullPath(spec.RootFs);
        if (!Directory.Exists(rootfs)) throw new DirectoryNotFoundException($"rootfs {rootfs} does not exist");
        var user = ExecUser.Resolve(rootfs, spec.User);
        if ((spec.Ulimits.Count > 0 || spec.ShmSizeBytes is not null) && Interlocked.Exchange(ref s_toldLimits, 1) == 0)
            Log?.Invoke("--ulimit and --shm-size are not applied under proot: the step has this process's limits and the container's /dev/shm");
        HideSelf();
        // Named like the OCI runtime's bundles, so a killed img's directory is reclaimed by the same sweep.
        var id = $"img-{ProcessOwner.Current}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))}";
        var executor = Path.Combine(stateDir, "executor");
        var work = Path.Combine(executor, id);
        Directory.CreateDirectory(executor, PrivateDir);
        Directory.CreateDirectory(work, PrivateDir);
        var cleanup = new List<Action>();
        try
        {
            var binds = new List<(string Host, string Guest)>();
            foreach (var system in new[] { "/proc", "/dev", "/sys" })
                if (Directory.Exists(system)) binds.Add((system, system));
            var empty = Directory.CreateDirectory(Path.Combine(work, "hidden"), PrivateDir).FullName;
            foreach (var pid in VisibleProcesses()) binds.Add((empty, "/proc/" + pid));
            binds.Add((WriteFile(work, "hosts", HostsFile(spec)), "/etc/hosts"));
            binds.Add((WriteFile(work, "resolv.conf", File.Exists("/etc/resolv.conf") ? File.ReadAllText("/etc/resolv.conf") : "nameserver 127.0.0.1\n"), "/etc/resolv.conf"));
            var env = OciRuntime.BuildEnv(spec.Env, user);
            env.AddRange(spec.SecretEnv);
            await AddRunMountsAsync(spec.Mounts, work, binds, env, cleanup, ct).ConfigureAwait(false);

            var psi = new System.Diagnostics.ProcessStartInfo(proot)
            {
                UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
            };
            // As an ordinary user, proot's trace tells which owners the step asked for (see ChownLog); the step's own
            // stderr then goes to its stdout (img shows both as one stream anyway), so proot's stderr is the trace alone.
            var chowns = Isolation.Current.RecordsOwners && Native.Lstat(Path.Combine(rootfs, "bin/sh")) is not null ? new ChownLog(rootfs) : null;
            if (Isolation.Current.RecordsOwners && chowns is null && Interlocked.Exchange(ref s_toldNoShell, 1) == 0)
                Log?.Invoke("the rootfs has no /bin/sh: owner changes of RUN steps are not recorded");
            if (chowns is not null) foreach (var a in new[] { "-v", "3" }) psi.ArgumentList.Add(a);
            psi.ArgumentList.Add(user.Uid == 0 ? "-0" : "-i");
            if (user.Uid != 0) psi.ArgumentList.Add(string.Create(CultureInfo.InvariantCulture, $"{user.Uid}:{user.Gid}"));
            foreach (var a in new[] { "-r", rootfs, "-w", spec.Cwd }) psi.ArgumentList.Add(a);
            foreach (var (host, guest) in binds) psi.ArgumentList.Add("--bind=" + host + ":" + guest);
            if (chowns is not null) foreach (var a in new[] { "/bin/sh", "-c", "exec 2>&1; exec \"$@\"", "sh" }) psi.ArgumentList.Add(a);
            foreach (var a in spec.Args) psi.ArgumentList.Add(a);
            // The step's environment only, as the OCI path gives it; proot unpacks its loader into the step's own directory.
            psi.Environment.Clear();
            foreach (var e in env)
            {
                var eq = e.IndexOf('=', StringComparison.Ordinal);
                if (eq > 0) psi.Environment[e[..eq]] = e[(eq + 1)..];
            }
            psi.Environment["PROOT_TMP_DIR"] = work;
            var code = await RunProcessAsync(psi, stdout, stderr, chowns, ct).ConfigureAwait(false);
            if (chowns is not null)
            {
                var recorded = chowns.Apply();
                if (recorded > 0) Log?.Invoke($"recorded {recorded} owner change(s) the step made");
                if (chowns.Unrecorded > 0)
                    await WriteLineAsync(stderr, $"[img] WARNING: {chowns.Unrecorded} owner change(s) through a file descriptor (fchown) cannot be recorded here: those files keep their earlier owner in the image").ConfigureAwait(false);
            }
            return code;
        }
        finally
        {
            for (int i = cleanup.Count - 1; i >= 0; i--)
            {
                try { cleanup[i](); }
                catch (IOException) { }
            }
            try { FileTree.RemoveTree(work); }
            catch (IOException) { }
        }
    }

    private static async Task<int> RunProcessAsync(System.Diagnostics.ProcessStartInfo psi, Stream stdout, Stream stderr, ChownLog? chowns,
        CancellationToken ct)
    {
        using var p = await ParentBoundProcess.StartAsync(psi).ConfigureAwait(false);
        p.StandardInput.Close();
        var copyOut = p.StandardOutput.BaseStream.CopyToAsync(stdout, CancellationToken.None);
        var copyErr = chowns is null ? p.StandardError.BaseStream.CopyToAsync(stderr, CancellationToken.None) : ReadTraceAsync(p.StandardError, chowns, stderr);
        // A cancel kills proot and every traced process under it.
        await ParentBoundProcess.WaitAsync(p, copyOut, copyErr, ct).ConfigureAwait(false);
        return p.ExitCode;
    }

    /// <summary>proot's stderr with a trace: the trace is read, anything else (proot's warnings and errors) shown.</summary>
    private static async Task ReadTraceAsync(StreamReader trace, ChownLog chowns, Stream stderr)
    {
        while (await trace.ReadLineAsync().ConfigureAwait(false) is { } line)
            if (chowns.Read(line) is { } shown) await WriteLineAsync(stderr, shown).ConfigureAwait(false);
    }

    private static Task WriteLineAsync(Stream stream, string line) => stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(line + "\n")).AsTask();

    private static int s_toldNoShell;
    private static int s_hidden;

    /// <summary>
    /// Makes img not dumpable (once): its /proc/PID/root, fd, environ and mem then belong to root, so a step running as
    /// this same user cannot reach the state directory or img's open files through them.
    /// </summary>
    private static void HideSelf()
    {
        if (Interlocked.Exchange(ref s_hidden, 1) == 0) _ = Libc.Prctl(Libc.PR_SET_DUMPABLE, 0, 0, 0, 0);
    }

    /// <summary>The processes whose /proc entry a step could open: this user's (every one for root), the step's own excluded (it does not exist yet).</summary>
    private static List<string> VisibleProcesses()
    {
        var euid = Libc.Geteuid();
        var pids = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            var name = Path.GetFileName(dir);
            if (name.Length == 0 || !name.All(char.IsAsciiDigit)) continue;
            if (euid == 0 || Native.Lstat(dir) is { } st && st.Uid == euid) pids.Add(name);
        }
        return pids;
    }

    private static string HostsFile(RunSpec spec)
    {
        var sb = new System.Text.StringBuilder();
        sb.Append("127.0.0.1\tlocalhost ").Append(spec.Hostname).Append('\n');
        sb.Append("::1\tlocalhost ip6-localhost ip6-loopback\n");
        foreach (var (name, address) in spec.ExtraHosts) sb.Append(address).Append('\t').Append(name).Append('\n');
        return sb.ToString();
    }

    private static string WriteFile(string dir, string name, string text)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private async Task AddRunMountsAsync(IReadOnlyList<RunMount> requested, string work, List<(string Host, string Guest)> binds, List<string> env,
        List<Action> cleanup, CancellationToken ct)
    {
        bool realOwners = Libc.Geteuid() == 0;
        string? secretsDir = null;
        int n = 0, ssh = 0;
        foreach (var m in requested)
        {
            n++;
            switch (m)
            {
                case BindMount b:
                    {
                        if (!Path.Exists(b.Source)) throw new FileNotFoundException($"bind mount source {b.Source} does not exist");
                        // proot cannot make a bind read-only, and writes must not reach the source: the step gets a copy either way.
                        var copy = Path.Combine(work, $"bind-{n}");
                        if (Directory.Exists(b.Source))
                        {
                            Directory.CreateDirectory(copy);
                            await TreeCopier.CopyAsync(b.Source, copy, ct).ConfigureAwait(false);
                        }
                        else File.Copy(b.Source, copy);
                        binds.Add((copy, b.Target));
                        break;
                    }
                case CacheMount c:
                    binds.Add((await OciRuntime.CacheDirAsync(CacheMountsDir, c, work, n, cleanup, realOwners, ct).ConfigureAwait(false), c.Target));
                    break;
                case TmpfsMount t:
                    binds.Add((Directory.CreateDirectory(Path.Combine(work, $"tmpfs-{n}")).FullName, t.Target));
                    break;
                case SecretMount s:
                    {
                        if (!File.Exists(s.SourceFile)) throw new FileNotFoundException($"secret {s.Id}: {s.SourceFile} does not exist");
                        if (secretsDir is null)
                        {
                            // Never on a disk: the container's /dev/shm is memory, and the directory goes with the step.
                            if (!Directory.Exists("/dev/shm"))
                                throw new IOException($"secret {s.Id}: no /dev/shm to hold it in memory (RUN runs under proot here, where no tmpfs can be mounted)");
                            secretsDir = Path.Combine("/dev/shm", "img-secrets-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)));
                            Directory.CreateDirectory(secretsDir, PrivateDir);
                            var dir = secretsDir;
                            cleanup.Add(() => FileTree.RemoveTree(dir));
                        }
                        var file = Path.Combine(secretsDir, $"secret-{n}");
                        await using (var src = File.OpenRead(s.SourceFile))
                        await using (var dst = new FileStream(file, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite }))
                            await src.CopyToAsync(dst, ct).ConfigureAwait(false);
                        File.SetUnixFileMode(file, s.Mode | UnixFileMode.UserRead);
                        if (realOwners && Libc.Lchown(file, (int)s.Uid, (int)s.Gid) != 0)
                            throw new IOException($"cannot chown secret {s.Id} to {s.Uid}:{s.Gid}: {Libc.LastError()}");
                        binds.Add((file, s.Target));
                        break;
                    }
                case SshMount k:
                    {
                        if (!Path.Exists(k.AgentSocket)) throw new FileNotFoundException($"ssh agent socket {k.AgentSocket} does not exist");
                        var target = string.IsNullOrEmpty(k.Target) ? $"/run/buildkit/ssh_agent.{ssh}" : k.Target;
                        ssh++;
                        binds.Add((k.AgentSocket, target));
                        env.RemoveAll(e => e.StartsWith("SSH_AUTH_SOCK=", StringComparison.Ordinal));
                        env.Add("SSH_AUTH_SOCK=" + target);
                        break;
                    }
            }
        }
    }
}
