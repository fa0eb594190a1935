using Img.Build.Graph;
using Img.Oci;
using Img.Runtime.Emulation;
using Img.Runtime.Oci;

namespace Img.Build;

/// <summary>
/// Runs an <see cref="ExecOp"/> (RUN): the process in a writable snapshot on its root input, with its mounts; the
/// change is committed as the step's layer. A non-zero exit fails the step with BuildKit's words; an EXDEV rename on
/// overlayfs asks for a run on a copy (<see cref="SnapshotWork.CommitChangeAsync"/>).
/// </summary>
internal sealed class RunOp(BuildEnv env, Vertex vertex) : IOp
{
    private ExecOp Exec => (ExecOp)vertex.Definition;

    public ValueTask<CacheMap> CacheMapAsync(CancellationToken ct) => ValueTask.FromResult(DefinitionCacheMaps.Of(vertex, env.ContentDigestAsync));

    public async Task<IResult> ExecAsync(IReadOnlyList<IResult> inputs, CancellationToken ct)
    {
        var exec = Exec;
        // Fail with what to install rather than "exec format error" from inside the container.
        if (Emulators.WhyCannotRun(exec.Platform ?? Platform.Host) is { } cannot) throw new BuildFailedException(cannot);
        var mounts = ExecMounts.Assemble(env, exec, inputs);
        var spec = new RunSpec
        {
            RootFs = "", Args = exec.Args, Env = exec.Env, SecretEnv = mounts.SecretEnv, Cwd = exec.Cwd,
            User = exec.User.Length == 0 ? null : exec.User, Network = exec.Network,
            ExtraHosts = exec.ExtraHosts, ShmSizeBytes = exec.ShmSizeBytes, Ulimits = exec.Ulimits,
        };
        var reporter = env.Steps.For(vertex);
        return await env.CommitStepAsync((SnapshotResult)inputs[0], rootfs =>
            BindSources.WithMountedAsync(env, mounts.Binds, mounts.Mounts,
                all => RunAsync(spec with { RootFs = rootfs, Mounts = all }, reporter, ct), ct), ct).ConfigureAwait(false);
    }

    private async Task RunAsync(RunSpec spec, StepReporter? reporter, CancellationToken ct)
    {
        var crossDevice = false;
        using var output = new LineStream(line =>
        {
            crossDevice |= LowerRenameFailedException.Reports(line);
            reporter?.Log(line);
        });
        int code;
        env.Log?.Invoke($"{vertex.Name}: executor {env.Runtime.Value.Describe}");
        try { code = await env.Runtime.Value.RunAsync(spec, output, output, ct).ConfigureAwait(false); }
        catch (InvalidOperationException e) { throw new BuildFailedException(e.Message, e); }
        output.Flush();
        if (code == 0) return;
        var failed = $"process \"{string.Join(' ', spec.Args)}\" did not complete successfully: exit code: {code}";
        if (crossDevice && !env.Snapshots.Snapshotter.RenamesLowerDirectories)
        {
            reporter?.Log("[img] EXDEV renaming a lower-layer directory under overlayfs: running this step again on a copy");
            throw new LowerRenameFailedException(failed);
        }
        throw new BuildFailedException(failed);
    }
}

/// <summary>A RUN's mounts: binds to make while it runs, the runtime's mounts, secrets for its environment.</summary>
internal sealed record ExecMountSet(IReadOnlyList<BindSource> Binds, IReadOnlyList<RunMount> Mounts, IReadOnlyList<string> SecretEnv);

/// <summary>
/// Turns an exec op's <see cref="ExecMount"/>s into runtime mounts: binds of the context or another filesystem (made
/// by <see cref="BindSources"/> while the step runs), caches, tmpfs, secrets (files, or values in the environment) and
/// ssh agents. A secret or agent the build was not given is an error only when the mount requires it.
/// </summary>
internal static class ExecMounts
{
    private const uint DefaultCacheMode = 0b111_101_101;
    private const uint DefaultSecretMode = 0b100_000_000;

    public static ExecMountSet Assemble(BuildEnv env, ExecOp exec, IReadOnlyList<IResult> inputs)
    {
        var binds = new List<BindSource>();
        var mounts = new List<RunMount>();
        var secretEnv = new List<string>();
        foreach (var m in exec.Mounts)
        {
            switch (m.Type)
            {
                case Img.Dockerfile.MountType.Bind: binds.Add(Bind(env, m, inputs[m.Input!.Value])); break;
                case Img.Dockerfile.MountType.Cache: mounts.Add(Cache(m)); break;
                case Img.Dockerfile.MountType.Tmpfs: mounts.Add(new TmpfsMount(m.Target, m.SizeBytes)); break;
                case Img.Dockerfile.MountType.Secret: Secret(env, m, mounts, secretEnv); break;
                case Img.Dockerfile.MountType.Ssh: Ssh(env, m, mounts); break;
            }
        }
        return new ExecMountSet(binds, mounts, secretEnv);
    }

    private static BindSource Bind(BuildEnv env, ExecMount m, IResult input)
    {
        var source = SourcePattern.Clean(m.Selector);
        return input switch
        {
            // As BuildKit: a link in the source resolves inside the context, never to a host path.
            ContextResult context => new BindSource(m.Target, m.ReadOnly, null, context.Context.HostPath(context.Context.Resolve(source))),
            SnapshotResult snapshot => new BindSource(m.Target, m.ReadOnly, snapshot.Snapshot ?? "", source),
            _ => throw new BuildFailedException($"a bind mount cannot read {input.GetType().Name}"),
        };
    }

    private static CacheMount Cache(ExecMount m)
    {
        var ownerGiven = m.Uid is not null || m.Gid is not null || m.Mode is not null;
        var sharing = m.Sharing switch
        {
            Img.Dockerfile.CacheSharing.Private => Img.Runtime.Oci.CacheSharing.Private,
            Img.Dockerfile.CacheSharing.Locked => Img.Runtime.Oci.CacheSharing.Locked,
            _ => Img.Runtime.Oci.CacheSharing.Shared,
        };
        return new CacheMount(m.Id ?? m.Target, m.Target, sharing, m.Uid ?? 0, m.Gid ?? 0, (UnixFileMode)(m.Mode ?? DefaultCacheMode), m.ReadOnly, ownerGiven);
    }

    private static void Secret(BuildEnv env, ExecMount m, List<RunMount> mounts, List<string> secretEnv)
    {
        var id = m.Id ?? "";
        if (!env.Request.Secrets.TryGetValue(id, out var file))
        {
            if (m.Required) throw new BuildFailedException($"secret {id}: not found");
            return;
        }
        // env= puts the value in the process environment only; a file is mounted too when a target is named.
        if (m.Env is { Length: > 0 } name) secretEnv.Add(name + "=" + SecretValue.Read(id, file));
        if (m.Env is null || m.Target.Length > 0)
            mounts.Add(new SecretMount(id, file, m.Target.Length > 0 ? m.Target : null, m.Uid ?? 0, m.Gid ?? 0, (UnixFileMode)(m.Mode ?? DefaultSecretMode)));
    }

    private static void Ssh(BuildEnv env, ExecMount m, List<RunMount> mounts)
    {
        var id = m.Id ?? "default";
        if (!env.Request.SshSockets.TryGetValue(id, out var socket))
        {
            if (m.Required) throw new BuildFailedException($"no SSH key {id} forwarded from the client");
            return;
        }
        mounts.Add(new SshMount(socket, m.Target.Length > 0 ? m.Target : null));
    }
}
