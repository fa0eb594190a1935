using Img.Runtime.Oci;
using DfMount = Img.Dockerfile.RunMount;
using DfMountType = Img.Dockerfile.MountType;

namespace Img.Build;

/// <summary>A RUN's <c>--mount</c>s assembled: their cache key parts, what to bind from the context or a stage, the rest as runtime mounts, secrets read into the environment.</summary>
internal sealed record RunMountSet(IReadOnlyList<string> KeyParts, IReadOnlyList<BindSource> Binds, IReadOnlyList<RunMount> Mounts, IReadOnlyList<string> SecretEnv);

/// <summary>
/// Turns a RUN's <c>--mount=type=bind|cache|tmpfs|secret|ssh</c> options into runtime mounts and the parts of the
/// step's key they add. Binds are only named here; <see cref="BindSources"/> makes them while the step runs.
/// </summary>
internal sealed class RunMounts
{
    private readonly StepInputs _step;
    private readonly List<string> _keyParts = [];
    private readonly List<BindSource> _binds = [];
    private readonly List<RunMount> _mounts = [];
    private readonly List<string> _secretEnv = [];

    private RunMounts(StepInputs step) => _step = step;

    /// <summary>The mounts of <paramref name="mounts"/>, relative targets resolved against <paramref name="cwd"/>.</summary>
    public static async Task<RunMountSet> AssembleAsync(StepInputs step, IReadOnlyList<DfMount> mounts, string cwd, CancellationToken ct)
    {
        var set = new RunMounts(step);
        foreach (var m in mounts)
        {
            var target = m.Target is { Length: > 0 } t ? (t.StartsWith('/') ? t : StepPaths.Clean(cwd + "/" + t)) : null;
            switch (m.Type)
            {
                case DfMountType.Bind: await set.BindAsync(m, target, ct).ConfigureAwait(false); break;
                case DfMountType.Cache: set.Cache(m, target); break;
                case DfMountType.Tmpfs: set.Tmpfs(m, target); break;
                case DfMountType.Secret: set.Secret(m, target); break;
                case DfMountType.Ssh: set.Ssh(m, target); break;
            }
        }
        return new RunMountSet(set._keyParts, set._binds, set._mounts, set._secretEnv);
    }

    private async Task BindAsync(DfMount m, string? target, CancellationToken ct)
    {
        if (target is null) throw new BuildFailedException("mount target must be set for bind mounts");
        var source = SourcePattern.Clean(m.Source ?? "");
        var context = _step.Solver.Context;
        if (m.From is null)
        {
            // As BuildKit: a link in the source resolves inside the context, never to a host path.
            var resolved = context.Resolve(source);
            _keyParts.Add($"bind context {source} {target} {m.ReadOnly} " + await context.DigestAsync([resolved], ct).ConfigureAwait(false));
            _binds.Add(new BindSource(m with { Target = target }, null, context.HostPath(resolved)));
        }
        else
        {
            var (key, snapshot) = await _step.SourceAsync(m.From, ct).ConfigureAwait(false);
            _keyParts.Add($"bind {key} {source} {target} {m.ReadOnly}");
            _binds.Add(new BindSource(m with { Target = target }, snapshot ?? "", source));
        }
    }

    private void Cache(DfMount m, string? target)
    {
        if (target is null) throw new BuildFailedException("mount target must be set for cache mounts");
        var id = m.Id is { Length: > 0 } i ? i : target;
        var ownerGiven = m.Uid is not null || m.Gid is not null || m.Mode is not null;
        _keyParts.Add(ownerGiven ? $"cache {id} {target} {m.Uid ?? 0}:{m.Gid ?? 0}:{m.Mode ?? 0b111_101_101}" : $"cache {id} {target}");
        var sharing = m.Sharing switch
        {
            Img.Dockerfile.CacheSharing.Private => Img.Runtime.Oci.CacheSharing.Private,
            Img.Dockerfile.CacheSharing.Locked => Img.Runtime.Oci.CacheSharing.Locked,
            _ => Img.Runtime.Oci.CacheSharing.Shared,
        };
        _mounts.Add(new CacheMount(id, target, sharing, m.Uid ?? 0, m.Gid ?? 0, (UnixFileMode)(m.Mode ?? 0b111_101_101), m.ReadOnly, ownerGiven));
    }

    private void Tmpfs(DfMount m, string? target)
    {
        if (target is null) throw new BuildFailedException("mount target must be set for tmpfs mounts");
        _keyParts.Add($"tmpfs {target}");
        _mounts.Add(new TmpfsMount(target, m.SizeBytes));
    }

    private void Secret(DfMount m, string? target)
    {
        var id = m.Id is { Length: > 0 } i ? i : target is not null ? Path.GetFileName(target) : m.Env ?? "";
        if (!_step.Solver.Request.Secrets.TryGetValue(id, out var file))
        {
            if (m.Required) throw new BuildFailedException($"secret {id}: not found");
            return;
        }
        // The key names the secret, never its value: a changed secret does not rebuild, as in BuildKit.
        _keyParts.Add($"secret {id} {target} {m.Env}");
        // env= puts the value in the process environment only; a file is mounted too when a target is named.
        if (m.Env is { Length: > 0 } name) _secretEnv.Add(name + "=" + SecretValue.Read(id, file));
        if (m.Env is null || target is not null)
            _mounts.Add(new SecretMount(id, file, target, m.Uid ?? 0, m.Gid ?? 0, (UnixFileMode)(m.Mode ?? 0b100_000_000)));
    }

    private void Ssh(DfMount m, string? target)
    {
        var id = m.Id is { Length: > 0 } i ? i : "default";
        if (!_step.Solver.Request.SshSockets.TryGetValue(id, out var socket))
        {
            if (m.Required) throw new BuildFailedException($"no SSH key {id} forwarded from the client");
            return;
        }
        _keyParts.Add($"ssh {id} {target}");
        _mounts.Add(new SshMount(socket, target));
    }
}
