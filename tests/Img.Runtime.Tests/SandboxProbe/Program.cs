using System.Text.Json;
using Img.Runtime.Namespaces;
using Img.Runtime.Oci;
using Img.Runtime.Snapshots;
using SandboxProbe;

// Enter the namespace exactly as img does.
var reexec = await UserNamespace.EnterOrReexecAsync(Environment.ProcessPath!, args, Console.Error, CancellationToken.None);
if (reexec is int code) return code;

var json = new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true };
switch (args[0])
{
    case "info":
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            uidMap = File.ReadAllText("/proc/self/uid_map"),
            gidMap = File.ReadAllText("/proc/self/gid_map"),
            hostEuid = UserNamespace.HostEuid,
            inNamespace = UserNamespace.InNestedNamespace,
            describe = UserNamespace.Describe(),
        }, json));
        return 0;
    case "exit":
        return int.Parse(args[1]);
    case "sleep":
        Console.WriteLine("ready");
        Console.Out.Flush();
        Thread.Sleep(TimeSpan.FromSeconds(int.Parse(args[1])));
        return 0;
    case "scenario":
        {
            var scenario = JsonSerializer.Deserialize<Scenario>(File.ReadAllText(args[1]), json)!;
            var result = await Runner.RunAsync(scenario);
            Console.WriteLine(JsonSerializer.Serialize(result, json));
            return 0;
        }
    case "rename-check":
        {
            // rename(2) of a directory that exists only in the lower layer, as dpkg or a RUN step would do it.
            var (state, backendName) = (args[1], args[2]);
            var snapshotter = Snapshotters.Resolve(BackendChoice.Parse(backendName), state).Open(state);
            var mnt = Path.Combine(state, "mnt-rename");
            Directory.CreateDirectory(mnt);
            await snapshotter.PrepareAsync("lower-active", null);
            snapshotter.Mount("lower-active", mnt);
            Directory.CreateDirectory(Path.Combine(mnt, "dir", "sub"));
            File.WriteAllText(Path.Combine(mnt, "dir", "sub", "f"), "hi");
            snapshotter.Unmount(mnt);
            await snapshotter.CommitAsync("lower", "lower-active");
            await snapshotter.PrepareAsync("upper", "lower");
            snapshotter.Mount("upper", mnt);
            string outcome;
            // rename(2) itself, with its own errno: Directory.Move's message has been seen to name a garbage errno.
            outcome = Posix.Rename(Path.Combine(mnt, "dir"), Path.Combine(mnt, "dir2")) is var errno && errno == 0
                ? "renamed"
                : $"error: {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";
            snapshotter.Unmount(mnt);
            Console.WriteLine(JsonSerializer.Serialize(new { backend = snapshotter.Kind.Name, snapshotter.RenamesLowerDirectories, outcome }, json));
            return 0;
        }
    default:
        Console.Error.WriteLine("unknown command " + args[0]);
        return 2;
}

static class Runner
{
    public static async Task<ScenarioResult> RunAsync(Scenario s)
    {
        var backend = Snapshotters.Resolve(BackendChoice.Parse(s.Backend), s.State);
        var snapshotter = backend.Open(s.State);
        var runtime = new OciRuntime(RuntimeInfo.Find(), s.State);
        var result = new ScenarioResult { Backend = backend.Name, RenamesLowerDirectories = snapshotter.RenamesLowerDirectories, Namespace = UserNamespace.Describe() };

        // The base layer: the rootfs copied into a first snapshot.
        var mnt = Path.Combine(s.State, "mnt");
        Directory.CreateDirectory(mnt);
        await snapshotter.PrepareAsync("base-active", null);
        snapshotter.Mount("base-active", mnt);
        await TreeCopier.CopyAsync(s.Rootfs, mnt, CancellationToken.None);
        snapshotter.Unmount(mnt);
        await snapshotter.CommitAsync("base", "base-active");

        string parent = "base";
        for (int i = 0; i < s.Steps.Count; i++)
        {
            var step = s.Steps[i];
            var r = new StepResult();
            result.Steps.Add(r);
            var key = $"step-{i}";
            await snapshotter.PrepareAsync(key, parent);
            snapshotter.Mount(key, mnt);
            using var stdout = new MemoryStream();
            using var stderr = new MemoryStream();
            using var cts = new CancellationTokenSource();
            if (step.CancelAfterMs is int ms) cts.CancelAfter(ms);
            try
            {
                var spec = new RunSpec
                {
                    RootFs = mnt, Args = step.Args, User = step.User, Env = step.Env, Cwd = step.Cwd,
                    Mounts = step.Mounts.Select(ToRunMount).ToList(),
                };
                r.ExitCode = await runtime.RunAsync(spec, stdout, stderr, cts.Token);
            }
            catch (OperationCanceledException) { r.Cancelled = true; }
            catch (Exception e) when (e is InvalidOperationException or IOException) { r.Error = e.Message; }
            finally
            {
                snapshotter.Unmount(mnt);
            }
            r.Stdout = System.Text.Encoding.UTF8.GetString(stdout.ToArray());
            r.Stderr = System.Text.Encoding.UTF8.GetString(stderr.ToArray());
            r.MountsLeft = File.ReadAllLines("/proc/self/mountinfo").Where(l => l.Contains(s.State, StringComparison.Ordinal)).ToList();
            var committed = $"layer-{i}";
            await snapshotter.CommitAsync(committed, key);
            r.FsDir = snapshotter.FsDir(committed);
            r.UpperDir = snapshotter.UpperDir(committed);
            r.Usage = snapshotter.Usage(committed);
            parent = committed;
        }
        return result;
    }

    private static RunMount ToRunMount(MountRequest m) => m.Type switch
    {
        "bind" => new BindMount(m.Source!, m.Target!, m.ReadWrite),
        "cache" => new CacheMount(m.Id!, m.Target!, Enum.Parse<CacheSharing>(m.Sharing ?? "Shared", true), m.Uid, m.Gid,
            m.Mode is null ? (UnixFileMode)0b111_101_101 : (UnixFileMode)Convert.ToInt32(m.Mode, 8)),
        "tmpfs" => new TmpfsMount(m.Target!, m.Size),
        "secret" => new SecretMount(m.Id!, m.Source!, m.Target, m.Uid, m.Gid,
            m.Mode is null ? UnixFileMode.UserRead : (UnixFileMode)Convert.ToInt32(m.Mode, 8)),
        "ssh" => new SshMount(m.Source!, m.Target),
        _ => throw new InvalidOperationException("unknown mount type " + m.Type),
    };
}

static class Posix
{
    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "rename", SetLastError = true)]
    private static extern int RenameRaw(string from, string to);

    /// <summary>rename(2): 0, or the errno it failed with.</summary>
    public static int Rename(string from, string to) =>
        RenameRaw(from, to) == 0 ? 0 : System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
}
