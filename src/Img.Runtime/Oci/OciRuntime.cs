using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Img.Content;
using Img.Fs;
using Img.Runtime.Interop;
using Img.Runtime.Namespaces;
using Img.Runtime.Snapshots;

namespace Img.Runtime.Oci;

/// <summary>
/// Runs RUN steps through a real OCI runtime (crun or runc) from a generated bundle. Rootless-safe:
/// no cgroups, no network namespace unless <see cref="RunSpec.Network"/> asks for none (host network), no user namespace of its own (the caller is
/// already root in one), docker's default capabilities, masked and read-only /proc paths.
/// </summary>
public sealed class OciRuntime : IStepExecutor
{
    private static readonly string[] DefaultCapabilities =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID",
        "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    ];

    private static readonly string[] MaskedPaths =
    [
        "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
        "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
    ];

    private static readonly string[] ReadonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

    private const string DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    private readonly string _stateDir;

    /// <summary>A runner using <paramref name="runtime"/>, keeping bundles, runtime state and cache mounts under <paramref name="stateDir"/>.</summary>
    public OciRuntime(RuntimeInfo runtime, string stateDir)
    {
        Runtime = runtime;
        _stateDir = Path.GetFullPath(stateDir);
    }

    /// <summary>The runtime binary in use.</summary>
    public RuntimeInfo Runtime { get; }

    /// <inheritdoc/>
    public string Describe => Runtime.Name;

    /// <summary>Debug lines (<c>-d</c>); null for none.</summary>
    public Action<string>? Log { get; init; }

    private static int s_toldNoSandbox;

    /// <summary>Where persistent cache mounts live.</summary>
    public string CacheMountsDir => Path.Combine(_stateDir, "cache-mounts");

    // The runtime's own state (--root): rootless runc would default to $XDG_RUNTIME_DIR/runc, which a
    // CI runner or an HPC batch job often lacks ("mkdir /run/runc: permission denied"). Under the state
    // dir it always exists and belongs to this user.
    private string RuntimeRoot => Path.Combine(_stateDir, "runtime-root", Runtime.Name);

    /// <summary>
    /// Runs <paramref name="spec"/>, streaming the process's stdout and stderr to the given streams, and returns
    /// its exit code. Cancelling kills the container. The container and its bundle are always deleted.
    /// </summary>
    public async Task<int> RunAsync(RunSpec spec, Stream stdout, Stream stderr, CancellationToken ct = default)
    {
        var rootfs = Path.GetFullPath(spec.RootFs);
        if (!Directory.Exists(rootfs)) throw new DirectoryNotFoundException($"rootfs {rootfs} does not exist");
        var user = ExecUser.Resolve(rootfs, spec.User);
        // The id names the bundle and the runtime state dir; the owner in it lets a later img tell a killed build's from a running one's.
        var id = $"img-{ProcessOwner.Current}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))}";
        // <state>/executor/<id>/ holds the step's throw-away copies (rw binds, private caches); its bundle/ (config.json
        // with the environment, hosts, resolv.conf, secret files) is a tmpfs: a secret is in memory and in the step only,
        // and a killed img leaves none of it behind (its mount namespace goes with it).
        var work = Path.Combine(_stateDir, "executor", id);
        var bundle = Path.Combine(work, "bundle");
        Directory.CreateDirectory(Path.Combine(_stateDir, "executor"), PrivateDir);
        Directory.CreateDirectory(work, PrivateDir);
        Directory.CreateDirectory(bundle, PrivateDir);
        Directory.CreateDirectory(RuntimeRoot);
        var cleanup = new List<Action>();
        MountStubs? stubs = null;
        try
        {
            MountBundleInMemory(bundle, spec, cleanup);
            var env = BuildEnv(spec.Env, user);
            env.AddRange(spec.SecretEnv);
            var sandbox = ProcessSandbox.Here;
            if (!sandbox.FreshProc && Interlocked.Exchange(ref s_toldNoSandbox, 1) == 0)
                Log?.Invoke($"RUN steps share this process's PID namespace and see its /proc read-only: a fresh /proc cannot be mounted here ({sandbox.Why})");
            var mounts = BaseMounts(bundle, spec, sandbox.FreshProc);
            await AddRunMountsAsync(spec.Mounts, work, bundle, mounts, env, cleanup, ct).ConfigureAwait(false);
            stubs = new MountStubs(rootfs, mounts.Select(m => m.Destination));

            var config = new RuntimeSpec(
                "1.0.2",
                new SpecProcess(false, new SpecUser(user.Uid, user.Gid, user.AdditionalGids), spec.Args, env, spec.Cwd,
                    new SpecCapabilities(DefaultCapabilities, DefaultCapabilities, DefaultCapabilities),
                    Rlimits(spec), false),
                new SpecRoot(rootfs, false),
                spec.Hostname,
                mounts,
                new SpecLinux(Namespaces(spec.Network, sandbox.FreshProc), MaskedPaths, ReadonlyPaths));
            await using (var configFile = new FileStream(Path.Combine(bundle, "config.json"), new FileStreamOptions
            { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite }))
                await configFile.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(config, RuntimeSpecJsonContext.Default.RuntimeSpec), ct).ConfigureAwait(false);

            return await RunContainerAsync(id, bundle, sandbox.FreshProc, stdout, stderr, ct).ConfigureAwait(false);
        }
        finally
        {
            await RuntimeCommandAsync(["delete", "-f", id]).ConfigureAwait(false);
            for (int i = cleanup.Count - 1; i >= 0; i--)
            {
                try { cleanup[i](); }
                catch (IOException) { }
            }
            stubs?.Remove();
            TryDeleteTree(work);
        }
    }

    private const UnixFileMode PrivateDir = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    private static void MountBundleInMemory(string bundle, RunSpec spec, List<Action> cleanup)
    {
        if (Libc.Mount("tmpfs", bundle, "tmpfs", Libc.MS_NOSUID | Libc.MS_NODEV, "mode=0700,size=16m") == 0)
        {
            cleanup.Add(() => Mounter.Unmount(bundle));
            return;
        }
        // Without secrets a bundle on disk reveals nothing; with them, refuse rather than write them down.
        if (spec.SecretEnv.Count > 0 || spec.Mounts.Any(m => m is SecretMount))
            throw new IOException($"cannot mount a tmpfs for the step's secrets at {bundle}: {Libc.LastError()}");
    }

    /// <summary>
    /// Removes bundles (<c>&lt;state&gt;/executor/</c>) and runtime states (<c>&lt;state&gt;/runtime-root/&lt;runtime&gt;/</c>) of
    /// containers whose img process no longer runs: a state is deleted through its runtime first
    /// (<c>--root &lt;dir&gt; delete -f</c>), mounts left under a bundle in this mount namespace are detached.
    /// Returns how many entries went. Work of a running process is never touched.
    /// </summary>
    public static async Task<int> ReclaimStaleAsync(string stateDir)
    {
        stateDir = Path.GetFullPath(stateDir);
        int removed = 0;
        var runtimeRoots = Path.Combine(stateDir, "runtime-root");
        if (Directory.Exists(runtimeRoots))
            foreach (var root in Directory.EnumerateDirectories(runtimeRoots))
            {
                var binary = Img.Runtime.Namespaces.UserNamespace.FindBinary(Path.GetFileName(root));
                foreach (var state in Directory.EnumerateDirectories(root))
                {
                    var id = Path.GetFileName(state);
                    if (!IsStale(id)) continue;
                    if (binary is not null) await DeleteContainerAsync(binary, root, id).ConfigureAwait(false);
                    TryDeleteTree(state);
                    removed++;
                }
            }
        var executor = Path.Combine(stateDir, "executor");
        if (Directory.Exists(executor))
            foreach (var bundle in Directory.EnumerateDirectories(executor))
            {
                if (!IsStale(Path.GetFileName(bundle))) continue;
                StaleMounts.DetachUnder(bundle);
                TryDeleteTree(bundle);
                removed++;
            }
        return removed;
    }

    // img-<owner>-<random>; an id without an owner comes from an img that recorded none and is reclaimed as well.
    private static bool IsStale(string id)
    {
        if (!id.StartsWith("img-", StringComparison.Ordinal)) return false;
        var body = id["img-".Length..];
        var dash = body.LastIndexOf('-');
        if (dash <= 0) return true;
        return !(ProcessOwner.TryParse(body[..dash], out var owner) && owner.IsAlive());
    }

    private static Task DeleteContainerAsync(string binary, string root, string id) => RunQuietlyAsync(binary, ["--root", root, "delete", "-f", id]);

    /// <summary>Runs a runtime command to its end, its output drained and dropped (best-effort clean-up calls).</summary>
    private static async Task RunQuietlyAsync(string binary, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(binary) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi);
        if (p is null) return;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().ConfigureAwait(false);
        await Task.WhenAll(o, e).ConfigureAwait(false);
    }

    private static void TryDeleteTree(string dir)
    {
        try { FileTree.RemoveTree(dir); }
        catch (IOException) { }
    }

    private static List<SpecNamespace> Namespaces(RunNetwork network, bool pidNamespace)
    {
        var namespaces = new List<SpecNamespace> { new("ipc"), new("uts"), new("mount") };
        // A PID namespace needs a procfs of its own, which a container with masked /proc paths cannot mount.
        if (pidNamespace) namespaces.Insert(0, new("pid"));
        // A new network namespace without a path: runc and crun set up its loopback and nothing else.
        if (network == RunNetwork.None) namespaces.Add(new("network"));
        return namespaces;
    }

    private async Task<int> RunContainerAsync(string id, string bundle, bool pidNamespace, Stream stdout, Stream stderr, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(Runtime.Path)
        {
            UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        foreach (var a in GlobalArgs()) psi.ArgumentList.Add(a);
        // Without a PID namespace runc warns on every exit that it cannot freeze the container's cgroup (there is none):
        // its log goes to the bundle, as BuildKit's does; its errors still reach stderr.
        if (!pidNamespace && !Runtime.IsCrun) foreach (var a in new[] { "--log", Path.Combine(bundle, "runtime.log") }) psi.ArgumentList.Add(a);
        // The runtime writes the pid file once the container exists: a failure without it is the runtime's own
        // (a /proc it may not mount, a cgroup layout it refuses), not the exit code of the step's command.
        var pidFile = Path.Combine(bundle, "pid");
        foreach (var a in new[] { "run", "--bundle", bundle, "--pid-file", pidFile, id }) psi.ArgumentList.Add(a);
        using var p = await ParentBoundProcess.StartAsync(psi).ConfigureAwait(false);
        using var reaper = ContainerReaper.Start(Runtime.Path, [.. GlobalArgs(), "delete", "-f", id]);
        p.StandardInput.Close();
        var errTail = new TailStream(stderr, 4096);
        var copyOut = p.StandardOutput.BaseStream.CopyToAsync(stdout, CancellationToken.None);
        var copyErr = p.StandardError.BaseStream.CopyToAsync(errTail, CancellationToken.None);
        // A cancel kills the runtime and everything under it (the container's init, whose death ends its pid
        // namespace); the state left behind goes with the `delete -f` that follows every run.
        await ParentBoundProcess.WaitAsync(p, copyOut, copyErr, ct).ConfigureAwait(false);
        if (p.ExitCode != 0 && !File.Exists(pidFile))
            throw new OciRuntimeException($"{Runtime.Name} could not start the step's container: {errTail.LastLine() ?? $"exit status {p.ExitCode}"}");
        return p.ExitCode;
    }

    private IEnumerable<string> GlobalArgs()
    {
        yield return "--root";
        yield return RuntimeRoot;
        // Rootless: no cgroups at all (crun otherwise insists on a cgroup layout it can manage).
        if (Runtime.IsCrun) yield return "--cgroup-manager=disabled";
    }

    private Task RuntimeCommandAsync(IReadOnlyList<string> args) => RunQuietlyAsync(Runtime.Path, [.. GlobalArgs(), .. args]);

    internal static List<string> BuildEnv(IReadOnlyList<string> env, ExecUser user)
    {
        var result = env.ToList();
        if (!result.Any(e => e.StartsWith("PATH=", StringComparison.Ordinal))) result.Insert(0, DefaultPath);
        if (!result.Any(e => e.StartsWith("HOME=", StringComparison.Ordinal))) result.Add("HOME=" + user.Home);
        return result;
    }

    private static List<SpecRlimit> Rlimits(RunSpec spec)
    {
        var limits = spec.Ulimits.Select(u => new SpecRlimit(u.Type, u.Hard, u.Soft)).ToList();
        if (!limits.Any(l => l.Type == "RLIMIT_NOFILE")) limits.Insert(0, new SpecRlimit("RLIMIT_NOFILE", NoFileLimit(), NoFileLimit()));
        return limits;
    }

    private static ulong NoFileLimit()
    {
        // docker's 1048576, but never above what this process may raise to (rootless cannot exceed it).
        const ulong docker = 1048576;
        try
        {
            var line = File.ReadLines("/proc/self/limits").FirstOrDefault(l => l.StartsWith("Max open files", StringComparison.Ordinal));
            var fields = line?.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields is { Length: >= 5 } && ulong.TryParse(fields[4], out var hard)) return Math.Min(docker, hard);
        }
        catch (IOException) { }
        return 1024;
    }

    private static List<SpecMount> BaseMounts(string bundle, RunSpec spec, bool freshProc)
    {
        var hosts = Path.Combine(bundle, "hosts");
        var sb = new StringBuilder();
        sb.Append("127.0.0.1\tlocalhost ").Append(spec.Hostname).Append('\n');
        sb.Append("::1\tlocalhost ip6-localhost ip6-loopback\n");
        foreach (var (name, address) in spec.ExtraHosts) sb.Append(address).Append('\t').Append(name).Append('\n');
        File.WriteAllText(hosts, sb.ToString());
        var resolv = Path.Combine(bundle, "resolv.conf");
        File.WriteAllText(resolv, File.Exists("/etc/resolv.conf") ? File.ReadAllText("/etc/resolv.conf") : "nameserver 127.0.0.1\n");

        var mounts = new List<SpecMount>
        {
            // Without a PID namespace of its own the step sees this process's /proc (BuildKit's NoProcessSandbox), read-only.
            freshProc ? new("/proc", "proc", "proc", ["nosuid", "noexec", "nodev"]) : new("/proc", "bind", "/proc", ["rbind", "nosuid", "noexec", "nodev", "ro"]),
            new("/dev", "tmpfs", "tmpfs", ["nosuid", "strictatime", "mode=755", "size=65536k"]),
            new("/dev/pts", "devpts", "devpts", ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]),
            new("/dev/shm", "tmpfs", "shm", ["nosuid", "noexec", "nodev", "mode=1777",
                spec.ShmSizeBytes is { } shm ? string.Create(CultureInfo.InvariantCulture, $"size={shm}") : "size=65536k"]),
            new("/dev/mqueue", "mqueue", "mqueue", ["nosuid", "noexec", "nodev"]),
            // Mounting sysfs needs a network namespace of our own; host networking means binding the host's, read-only.
            new("/sys", "none", "/sys", ["rbind", "nosuid", "noexec", "nodev", "ro"]),
        };
        // null, zero, full, random, urandom and tty: the runtime creates its default devices itself, and
        // in a user namespace (where mknod is refused) it bind-mounts the host's nodes. A bind of our own
        // on top would make runc open the host's /dev/tty while creating them (ENXIO without a terminal).
        mounts.Add(new("/etc/hosts", "bind", hosts, ["bind", "rw"]));
        mounts.Add(new("/etc/resolv.conf", "bind", resolv, ["bind", "rw"]));
        return mounts;
    }

    private async Task AddRunMountsAsync(IReadOnlyList<RunMount> requested, string work, string bundle, List<SpecMount> mounts, List<string> env,
        List<Action> cleanup, CancellationToken ct)
    {
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
                        var source = b.Source;
                        if (b.ReadWrite)
                        {
                            // Writes must not reach the source: give the step a throw-away copy.
                            source = Path.Combine(work, $"bind-{n}");
                            if (Directory.Exists(b.Source))
                            {
                                Directory.CreateDirectory(source);
                                await TreeCopier.CopyAsync(b.Source, source, ct).ConfigureAwait(false);
                            }
                            else File.Copy(b.Source, source);
                        }
                        mounts.Add(new(b.Target, "bind", source, ["rbind", b.ReadWrite ? "rw" : "ro"]));
                        break;
                    }
                case CacheMount c:
                    mounts.Add(new(c.Target, "bind", await CacheDirAsync(CacheMountsDir, c, work, n, cleanup, true, ct).ConfigureAwait(false),
                        ["rbind", c.ReadOnly ? "ro" : "rw"]));
                    break;
                case TmpfsMount t:
                    {
                        var options = new List<string> { "nosuid", "nodev" };
                        if (t.SizeBytes is { } size) options.Add(string.Create(CultureInfo.InvariantCulture, $"size={size}"));
                        mounts.Add(new(t.Target, "tmpfs", "tmpfs", options));
                        break;
                    }
                case SecretMount s:
                    {
                        if (!File.Exists(s.SourceFile)) throw new FileNotFoundException($"secret {s.Id}: {s.SourceFile} does not exist");
                        if (secretsDir is null)
                        {
                            // Inside the bundle's tmpfs, so the secret never touches a disk or the snapshot.
                            secretsDir = Path.Combine(bundle, "secrets");
                            Directory.CreateDirectory(secretsDir, PrivateDir);
                        }
                        var file = Path.Combine(secretsDir, $"secret-{n}");
                        await using (var src = File.OpenRead(s.SourceFile))
                        await using (var dst = File.Create(file))
                            await src.CopyToAsync(dst, ct).ConfigureAwait(false);
                        File.SetUnixFileMode(file, s.Mode);
                        if (Libc.Lchown(file, (int)s.Uid, (int)s.Gid) != 0)
                            throw new IOException($"cannot chown secret {s.Id} to {s.Uid}:{s.Gid}: {Libc.LastError()}");
                        mounts.Add(new(s.Target, "bind", file, ["bind", "ro", "nosuid", "nodev", "noexec"]));
                        break;
                    }
                case SshMount k:
                    {
                        if (!Path.Exists(k.AgentSocket)) throw new FileNotFoundException($"ssh agent socket {k.AgentSocket} does not exist");
                        var target = string.IsNullOrEmpty(k.Target) ? $"/run/buildkit/ssh_agent.{ssh}" : k.Target;
                        ssh++;
                        mounts.Add(new(target, "bind", k.AgentSocket, ["bind", "rw"]));
                        env.RemoveAll(e => e.StartsWith("SSH_AUTH_SOCK=", StringComparison.Ordinal));
                        env.Add("SSH_AUTH_SOCK=" + target);
                        break;
                    }
            }
        }
    }

    /// <summary>
    /// The directory a cache mount binds: shared, locked (held until <paramref name="cleanup"/> runs) or a private copy.
    /// <paramref name="setOwner"/> false leaves directories to the user running img (no namespace to chown in).
    /// </summary>
    internal static async Task<string> CacheDirAsync(string cacheMountsDir, CacheMount c, string bundle, int n, List<Action> cleanup, bool setOwner,
        CancellationToken ct)
    {
        Directory.CreateDirectory(cacheMountsDir);
        var name = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(c.StorageKey)))[..32];
        var dir = Path.Combine(cacheMountsDir, name);
        if (!Directory.Exists(dir))
        {
            var tmp = dir + ".new-" + Environment.ProcessId;
            Directory.CreateDirectory(tmp);
            File.SetUnixFileMode(tmp, c.Mode);
            if (setOwner && Libc.Lchown(tmp, (int)c.Uid, (int)c.Gid) != 0)
                throw new IOException($"cannot chown cache mount {c.Id} to {c.Uid}:{c.Gid}: {Libc.LastError()}");
            try { Directory.Move(tmp, dir); }
            catch (IOException) when (Directory.Exists(dir)) { Directory.Delete(tmp); } // another build created it first
        }
        switch (c.Sharing)
        {
            case CacheSharing.Locked:
                {
                    var held = await Task.Run(() => StateLock.Exclusive(dir + ".lock"), ct).ConfigureAwait(false);
                    cleanup.Add(held.Dispose);
                    return dir;
                }
            case CacheSharing.Private:
                {
                    var copy = Path.Combine(bundle, $"cache-{n}");
                    Directory.CreateDirectory(copy);
                    File.SetUnixFileMode(copy, File.GetUnixFileMode(dir));
                    if (setOwner && Libc.Lchown(copy, (int)c.Uid, (int)c.Gid) != 0)
                        throw new IOException($"cannot chown cache mount {c.Id}: {Libc.LastError()}");
                    await TreeCopier.CopyAsync(dir, copy, ct).ConfigureAwait(false);
                    return copy;
                }
            default:
                return dir;
        }
    }
}
