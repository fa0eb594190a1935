using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Img.Archive.Layers;
using Img.Content;
using Img.Dockerfile;
using Img.Oci;
using Img.Runtime.Emulation;
using Img.Runtime.Oci;
using DfMount = Img.Dockerfile.RunMount;
using DfMountType = Img.Dockerfile.MountType;
using OciHealth = Img.Oci.HealthConfig;

namespace Img.Build;

/// <summary>Runs one stage's instructions in order: config instructions change the image config, RUN/COPY/ADD/WORKDIR make layers.</summary>
internal sealed class StageDispatcher(Solver solver, PlannedStage stage)
{
    private const string HistoryComment = "buildkit.dockerfile.v0";
    private StageState _state = null!;
    private IReadOnlyList<string> _shell = ImageConfigRules.DefaultShell();
    private bool _cmdSet;
    private int _position = 1;
    private int _total;

    private ImageConfig Config => _state.Config;
    private string DisplayName => stage.Stage.DisplayName;

    public async Task<StageState> RunAsync(CancellationToken ct)
    {
        _total = 1 + stage.Stage.Commands.Count(IsVertex);
        _state = await BaseAsync(ct).ConfigureAwait(false);
        var env = ImageConfigRules.WithDefaultPath(Config.Config.Env ?? []);
        Config.Config.Env = env;
        var scope = solver.Plan.CreateScope(stage, env, _state.Args);
        _shell = Config.Config.Shell is { Count: > 0 } sh ? sh : ImageConfigRules.DefaultShell(Config.OS.Length > 0 ? Config.OS : "linux");

        var triggers = Config.Config.OnBuild is { Count: > 0 } t ? OnbuildTriggers.Parse(t, solver.Plan.Document.Syntax.EscapeToken) : [];
        Config.Config.OnBuild = null;
        var instructions = triggers.Concat(stage.Stage.Commands).ToList();
        _total = 1 + instructions.Count(IsVertex);

        foreach (var raw in instructions)
        {
            ct.ThrowIfCancellationRequested();
            Instruction ins;
            try { ins = scope.Apply(raw); }
            catch (DockerfileException e) { throw new BuildFailedException("failed to solve: " + e.Message, e); }
            await DispatchAsync(ins, raw, scope, ct).ConfigureAwait(false);
        }
        return new StageState { Key = _state.Key, Snapshot = _state.Snapshot, Layers = _state.Layers, Config = _state.Config, Created = _state.Created, Args = scope.DeclaredArgs };
    }

    private static bool IsVertex(Instruction i) => i is RunInstruction or CopyInstruction or AddInstruction or WorkdirInstruction;

    private async Task<StageState> BaseAsync(CancellationToken ct)
    {
        var platform = StagePlatform();
        if (stage.BaseStageIndex is int b)
        {
            var parent = await solver.StageAsync(b, ct).ConfigureAwait(false);
            return new StageState { Key = parent.Key, Snapshot = parent.Snapshot, Layers = [.. parent.Layers], Config = StageState.Clone(parent.Config), Created = parent.Created, Args = parent.Args };
        }
        if (stage.IsScratch)
        {
            return new StageState
            {
                Key = BuildCache.Key("scratch"),
                Layers = [],
                // BuildKit's empty image: the default PATH and "/" as the working directory.
                Config = new ImageConfig
                {
                    OS = platform.OS, Architecture = platform.Architecture, Variant = platform.Variant,
                    Config = new ContainerConfig { Env = [.. ImageConfigRules.DefaultEnv(platform.OS)], WorkingDir = "/" },
                    RootFs = new RootFs(),
                },
            };
        }
        // The step spans the pull and the unpacking of the base layers, as BuildKit's FROM does: a large base image
        // takes its time here, not hidden before the first step.
        var shown = Reference.TryParse(stage.BaseName, out var parsed, out _) ? parsed!.ToString() : stage.BaseName;
        var from = solver.Progress.Start($"[{DisplayName} 1/{_total}] FROM {shown}");
        BaseImage image;
        try { image = await solver.Images.GetAsync(stage.BaseName, platform, ct).ConfigureAwait(false); }
        catch (Exception e)
        {
            from.Error(e is OperationCanceledException ? "context canceled" : "base image not available");
            throw;
        }
        from.Done();
        var config = StageState.Clone(image.Config);
        config.History ??= [];
        return new StageState
        {
            Key = image.Key, Snapshot = image.Snapshot, Layers = [.. image.Layers], Config = config,
            Created = image.Config.Created,
        };
    }

    /// <summary>The platform a stage starts from: its <c>FROM --platform</c>, else the one being built.</summary>
    private Platform StagePlatform()
    {
        if (stage.Platform is not { Length: > 0 } p) return solver.Request.Platform;
        try { return Platform.Parse(p); }
        catch (FormatException e) { throw new BuildFailedException("failed to solve: " + e.Message, e); }
    }

    /// <summary>The platform of the stage's files, which RUN executes: its config's (the base image's), else the stage's.</summary>
    private Platform RunPlatform() =>
        Config.Architecture.Length > 0
            ? Platform.Normalize(new Platform { OS = Config.OS.Length > 0 ? Config.OS : "linux", Architecture = Config.Architecture, Variant = Config.Variant })
            : StagePlatform();

    private string StepLabel(Instruction raw) => $"[{DisplayName}] {raw.Location.Original.Trim()}";

    private string StepName(Instruction raw) => $"[{DisplayName} {++_position}/{_total}] {raw.Location.Original.Trim()}";

    private void History(string createdBy, bool emptyLayer)
    {
        Config.History ??= [];
        // The time of the filesystem this step sees, not the wall clock: a build answered from cache is the same image.
        // Null (scratch, nothing written yet) is filled in when the image is written.
        var created = solver.Request.SourceDateEpoch ?? _state.Created;
        Config.History.Add(new History { Created = created, CreatedBy = createdBy, Comment = HistoryComment, EmptyLayer = emptyLayer });
    }

    private void LayerHistory(string createdBy, int layersBefore) => History(createdBy, _state.Layers.Count == layersBefore);

    private async Task DispatchAsync(Instruction ins, Instruction raw, StageScope scope, CancellationToken ct)
    {
        var c = Config.Config;
        switch (ins)
        {
            case EnvInstruction env:
                c.Env = [.. scope.ConfigEnv];
                History("ENV " + string.Join(' ', env.Env.Select(kv => kv.Key + "=" + kv.Value)), true);
                break;
            case ArgInstruction arg:
                History("ARG " + string.Join(' ', arg.Args.Select(a => a.Value is null ? a.Key : a.Key + "=" + a.Value)), true);
                break;
            case LabelInstruction label:
                c.Labels ??= new SortedDictionary<string, string>(StringComparer.Ordinal);
                foreach (var kv in label.Labels) c.Labels[kv.Key] = kv.Value;
                History("LABEL " + string.Join(' ', label.Labels.Select(kv => kv.Key + "=" + kv.Value)), true);
                break;
            case ExposeInstruction expose:
                c.ExposedPorts ??= new SortedDictionary<string, EmptyObject>(StringComparer.Ordinal);
                foreach (var p in expose.Ports.SelectMany(PortSpec.Parse)) c.ExposedPorts[p] = EmptyObject.Instance;
                History(HistoryText.Expose(expose.Ports.SelectMany(PortSpec.Parse)), true);
                break;
            case VolumeInstruction volume:
                c.Volumes ??= new SortedDictionary<string, EmptyObject>(StringComparer.Ordinal);
                foreach (var v in volume.Volumes) c.Volumes[v] = EmptyObject.Instance;
                History("VOLUME [" + string.Join(' ', volume.Volumes) + "]", true);
                break;
            case UserInstruction user:
                c.User = user.User;
                History("USER " + user.User, true);
                break;
            case StopSignalInstruction stop:
                c.StopSignal = stop.Signal;
                History("STOPSIGNAL " + stop.Signal, true);
                break;
            case MaintainerInstruction m:
                Config.Author = m.Maintainer;
                History("MAINTAINER " + m.Maintainer, true);
                break;
            case OnbuildInstruction onbuild:
                c.OnBuild ??= [];
                c.OnBuild.Add(onbuild.Expression);
                History("ONBUILD " + onbuild.Expression, true);
                break;
            case ShellInstruction shell:
                _shell = [.. shell.Shell];
                c.Shell = [.. shell.Shell];
                History("SHELL [" + string.Join(' ', shell.Shell) + "]", true);
                break;
            case CmdInstruction cmd:
                c.Cmd = ImageConfigRules.CommandArgs(cmd.Command, _shell);
                _cmdSet = true;
                History("CMD [" + string.Join(' ', c.Cmd.Select(Quote)) + "]", true);
                break;
            case EntrypointInstruction ep:
                c.Entrypoint = ImageConfigRules.CommandArgs(ep.Command, _shell);
                c.Cmd = ImageConfigRules.CmdAfterEntrypoint(c.Cmd, _cmdSet)?.ToList();
                History("ENTRYPOINT [" + string.Join(' ', c.Entrypoint.Select(Quote)) + "]", true);
                break;
            case HealthcheckInstruction hc:
                c.Healthcheck = new OciHealth
                {
                    Test = [.. hc.Health.Test],
                    Interval = hc.Health.Interval.Ticks * 100,
                    Timeout = hc.Health.Timeout.Ticks * 100,
                    StartPeriod = hc.Health.StartPeriod.Ticks * 100,
                    StartInterval = hc.Health.StartInterval.Ticks * 100,
                    Retries = hc.Health.Retries,
                };
                History("HEALTHCHECK " + string.Join(' ', hc.Health.Test), true);
                break;
            case WorkdirInstruction wd:
                await WorkdirAsync(wd, raw, ct).ConfigureAwait(false);
                break;
            case RunInstruction run:
                await RunAsync(run, raw, scope, ct).ConfigureAwait(false);
                break;
            case CopyInstruction copy:
                await CopyAsync(new CopyRequest(copy.Files, copy.From, copy.Chown, copy.Chmod, copy.Parents, copy.Excludes, false, null, null), raw, scope, ct).ConfigureAwait(false);
                break;
            case AddInstruction add:
                await CopyAsync(new CopyRequest(add.Files, null, add.Chown, add.Chmod, false, add.Excludes, true, add.Unpack, add.Checksum), raw, scope, ct).ConfigureAwait(false);
                break;
            default:
                throw new BuildFailedException($"failed to solve: Dockerfile:{raw.Location.StartLine}: {raw.Name} is not supported");
        }
    }

    private static string Quote(string s) => "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    // ---- WORKDIR ----------------------------------------------------------------------------------

    private async Task WorkdirAsync(WorkdirInstruction wd, Instruction raw, CancellationToken ct)
    {
        var path = CleanAbs(wd.Path.StartsWith('/') ? wd.Path : (Config.Config.WorkingDir ?? "/") + "/" + wd.Path);
        // As BuildKit: the config keeps an absolute path as written (WORKDIR /srv/app/ stays "/srv/app/"), a relative
        // one joined onto the current directory and cleaned; the directory made is the cleaned path either way.
        var configured = wd.Path.StartsWith('/') ? wd.Path : path;
        Config.Config.WorkingDir = configured;
        var user = Config.Config.User;
        var before = _state.Layers.Count;
        _state = await solver.LayerStepAsync(_state, StepName(raw), "WORKDIR " + path, ["WORKDIR", path, user ?? ""], (dir, _) =>
        {
            (uint, uint)? owner = null;
            if (!string.IsNullOrEmpty(user))
            {
                try { var u = ExecUser.Resolve(dir, user); owner = (u.Uid, u.Gid); }
                catch (InvalidOperationException) { owner = null; }
            }
            FileCopier.MakeDirectories(dir, path, owner);
            return Task.CompletedTask;
        }, ct).ConfigureAwait(false);
        LayerHistory("WORKDIR " + configured, before);
    }

    /// <summary>The largest secret a build reads into a RUN's environment: docker's limit for a secret (500 KiB).</summary>
    internal const int MaxSecretSize = 500 * 1024;

    private static string ReadSecret(string id, string file)
    {
        try
        {
            // Read one byte past the limit, never the whole of what may be endless (/dev/zero, a FIFO's writer).
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.None);
            var buffer = new byte[MaxSecretSize + 1];
            int n = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
            if (n > MaxSecretSize)
                throw new BuildFailedException($"failed to solve: secret {id}: larger than the {MaxSecretSize} bytes a secret may hold");
            // Decoded as File.ReadAllText did: UTF-8 unless a byte order mark says otherwise.
            using var reader = new StreamReader(new MemoryStream(buffer, 0, n), Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
            return reader.ReadToEnd();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BuildFailedException($"failed to solve: secret {id}: cannot read its file: {e.GetType().Name}");
        }
    }

    internal static string CleanAbs(string path) => "/" + SourcePattern.Clean(path);

    // ---- RUN --------------------------------------------------------------------------------------

    private async Task RunAsync(RunInstruction run, Instruction raw, StageScope scope, CancellationToken ct)
    {
        var argv = RunArgs(run);
        var env = scope.RunEnvironment();
        var user = Config.Config.User;
        var cwd = Config.Config.WorkingDir is { Length: > 0 } w ? w : "/";
        // RUN --network wins over --network; the build's default (host) adds nothing, so existing keys stay.
        var networkMode = run.Network is { Length: > 0 } n ? n : solver.Request.Network == RunNetwork.None ? "none" : null;
        var keyParts = new List<string> { "RUN", string.Join('\0', argv), string.Join('\0', env), user ?? "", cwd, networkMode ?? "" };
        if (solver.Request.ExtraHosts.Count > 0) keyParts.Add("hosts " + string.Join(' ', solver.Request.ExtraHosts.Select(h => h.Name + "=" + h.Address)));
        if (solver.Request.ShmSizeBytes is { } shm) keyParts.Add(string.Create(CultureInfo.InvariantCulture, $"shm {shm}"));
        if (solver.Request.Ulimits.Count > 0) keyParts.Add("ulimits " + string.Join(' ', solver.Request.Ulimits.Select(u => $"{u.Name}={u.Soft}:{u.Hard}")));
        // The same files run on another architecture are another step (FROM scratch shares one key across platforms).
        var runPlatform = RunPlatform();
        if (!runPlatform.Equals(Platform.Host)) keyParts.Add("platform " + runPlatform);
        var network = networkMode switch
        {
            null or "" or "default" or "host" => RunNetwork.Host, // the original's default is the host network
            "none" => RunNetwork.None,
            var other => throw new BuildFailedException($"failed to solve: network mode \"{other}\" not supported"),
        };
        var binds = new List<(DfMount Mount, string? Snapshot, string HostSource)>();
        var mounts = new List<Img.Runtime.Oci.RunMount>();
        var secretEnv = new List<string>();
        foreach (var m in run.Mounts)
        {
            var target = m.Target is { Length: > 0 } t ? (t.StartsWith('/') ? t : CleanAbs(cwd + "/" + t)) : null;
            switch (m.Type)
            {
                case DfMountType.Bind:
                    {
                        if (target is null) throw new BuildFailedException("failed to solve: mount target must be set for bind mounts");
                        var source = SourcePattern.Clean(m.Source ?? "");
                        if (m.From is null)
                        {
                            // As BuildKit: a link in the source resolves inside the context, never to a host path.
                            var resolved = solver.Context.Resolve(source);
                            keyParts.Add($"bind context {source} {target} {m.ReadOnly} " + await solver.Context.DigestAsync([resolved], ct).ConfigureAwait(false));
                            binds.Add((m with { Target = target }, null, solver.Context.HostPath(resolved)));
                        }
                        else
                        {
                            var (key, snapshot) = await SourceOfAsync(m.From, ct).ConfigureAwait(false);
                            keyParts.Add($"bind {key} {source} {target} {m.ReadOnly}");
                            binds.Add((m with { Target = target }, snapshot ?? "", source));
                        }
                        break;
                    }
                case DfMountType.Cache:
                    {
                        if (target is null) throw new BuildFailedException("failed to solve: mount target must be set for cache mounts");
                        var id = m.Id is { Length: > 0 } i ? i : target;
                        var ownerGiven = m.Uid is not null || m.Gid is not null || m.Mode is not null;
                        keyParts.Add(ownerGiven ? $"cache {id} {target} {m.Uid ?? 0}:{m.Gid ?? 0}:{m.Mode ?? 0b111_101_101}" : $"cache {id} {target}");
                        var sharing = m.Sharing switch
                        {
                            Img.Dockerfile.CacheSharing.Private => Img.Runtime.Oci.CacheSharing.Private,
                            Img.Dockerfile.CacheSharing.Locked => Img.Runtime.Oci.CacheSharing.Locked,
                            _ => Img.Runtime.Oci.CacheSharing.Shared,
                        };
                        mounts.Add(new CacheMount(id, target, sharing, m.Uid ?? 0, m.Gid ?? 0, (UnixFileMode)(m.Mode ?? 0b111_101_101), m.ReadOnly, ownerGiven));
                        break;
                    }
                case DfMountType.Tmpfs:
                    if (target is null) throw new BuildFailedException("failed to solve: mount target must be set for tmpfs mounts");
                    keyParts.Add($"tmpfs {target}");
                    mounts.Add(new TmpfsMount(target, m.SizeBytes));
                    break;
                case DfMountType.Secret:
                    {
                        var id = m.Id is { Length: > 0 } i ? i : target is not null ? Path.GetFileName(target) : m.Env ?? "";
                        if (!solver.Request.Secrets.TryGetValue(id, out var file))
                        {
                            if (m.Required) throw new BuildFailedException($"failed to solve: secret {id}: not found");
                            break;
                        }
                        // The key names the secret, never its value: a changed secret does not rebuild, as in BuildKit.
                        keyParts.Add($"secret {id} {target} {m.Env}");
                        // env= puts the value in the process environment only; a file is mounted too when a target is named.
                        if (m.Env is { Length: > 0 } name) secretEnv.Add(name + "=" + ReadSecret(id, file));
                        if (m.Env is null || target is not null)
                            mounts.Add(new SecretMount(id, file, target, m.Uid ?? 0, m.Gid ?? 0, (UnixFileMode)(m.Mode ?? 0b100_000_000)));
                        break;
                    }
                case DfMountType.Ssh:
                    {
                        var id = m.Id is { Length: > 0 } i ? i : "default";
                        if (!solver.Request.SshSockets.TryGetValue(id, out var socket))
                        {
                            if (m.Required) throw new BuildFailedException($"failed to solve: no SSH key {id} forwarded from the client");
                            break;
                        }
                        keyParts.Add($"ssh {id} {target}");
                        mounts.Add(new SshMount(socket, target));
                        break;
                    }
            }
        }

        var before = _state.Layers.Count;
        _state = await solver.LayerStepAsync(_state, StepName(raw), "mount / from exec " + string.Join(' ', argv), keyParts, async (rootfs, step) =>
        {
            // Fail with what to install rather than "exec format error" from inside the container.
            if (Emulators.WhyCannotRun(runPlatform) is { } cannot) throw new BuildFailedException("failed to solve: " + cannot);
            await WithBindsAsync(binds, 0, mounts, async all =>
            {
                var spec = new RunSpec { RootFs = rootfs, Args = argv, Env = env, SecretEnv = secretEnv, Cwd = cwd, User = user, Mounts = all, Network = network,
                    ExtraHosts = solver.Request.ExtraHosts, ShmSizeBytes = solver.Request.ShmSizeBytes, Ulimits = solver.Request.Ulimits };
                var crossDevice = false;
                using var output = new LineStream(line =>
                {
                    crossDevice |= LowerRenameFailedException.Reports(line);
                    step.Log(line);
                });
                int code;
                solver.Request.Log?.Invoke($"{StepLabel(raw)}: executor {solver.Runtime.Value.Describe}");
                try { code = await solver.Runtime.Value.RunAsync(spec, output, output, ct).ConfigureAwait(false); }
                catch (InvalidOperationException e) { throw new BuildFailedException("failed to solve: " + e.Message, e); }
                output.Flush();
                if (code != 0 && crossDevice && !solver.Snapshots.Snapshotter.RenamesLowerDirectories)
                {
                    step.Log("[img] EXDEV renaming a lower-layer directory under overlayfs: running this step again on a copy");
                    throw new LowerRenameFailedException($"failed to solve: process \"{string.Join(' ', argv)}\" did not complete successfully: exit code: {code}");
                }
                if (code != 0)
                    throw new BuildFailedException($"failed to solve: process \"{string.Join(' ', argv)}\" did not complete successfully: exit code: {code}");
            }, ct).ConfigureAwait(false);
        }, ct).ConfigureAwait(false);
        LayerHistory("RUN " + HistoryText.RunCommand(argv, scope.DeclaredArgs, scope.ExpansionEnvironment()) + " # buildkit", before);
    }

    private List<string> RunArgs(RunInstruction run)
    {
        if (run.Heredocs.Count > 0 && run.Command.PrependShell)
        {
            var line = string.Join(' ', run.Command.Args);
            // RUN <<EOF: the body is the script, run by the shell.
            if (run.Heredocs.Count == 1 && HeredocSyntax.Parse(line.Trim()) is not null)
                return [.. _shell, run.Heredocs[0].EffectiveContent];
            // RUN <<-EOF sh, RUN cat <<A <<B …: as BuildKit, the line, each raw body and its terminator go to the
            // shell, which feeds the bodies to the command itself (and strips the tabs of <<- itself).
            var full = new StringBuilder(line);
            foreach (var doc in run.Heredocs) full.Append('\n').Append(doc.Content).Append(doc.Name);
            return [.. _shell, full.ToString()];
        }
        return ImageConfigRules.CommandArgs(run.Command, _shell);
    }

    private async Task WithBindsAsync(List<(DfMount Mount, string? Snapshot, string HostSource)> binds, int index, List<Img.Runtime.Oci.RunMount> mounts,
        Func<List<Img.Runtime.Oci.RunMount>, Task> run, CancellationToken ct)
    {
        if (index == binds.Count)
        {
            await run(mounts).ConfigureAwait(false);
            return;
        }
        var (m, snapshot, source) = binds[index];
        if (snapshot is null)
        {
            if (solver.Context.Ignore.Patterns.Count == 0)
            {
                await WithBindsAsync(binds, index + 1, [.. mounts, new BindMount(source, m.Target!, !m.ReadOnly)], run, ct).ConfigureAwait(false);
                return;
            }
            // The context as the build sees it: a copy without what .dockerignore excludes.
            var rel = Path.GetRelativePath(solver.Context.Directory, source) is var r && r != "." ? r : "";
            if (solver.Context.IsExcluded(rel) || Posix.TryLstat(source) is null)
                throw new BuildFailedException($"failed to solve: failed to compute cache key: \"/{rel}\": not found");
            var dir = solver.Snapshots.NewMountDir();
            try
            {
                var copy = Path.Combine(dir, "context");
                FileCopier.Copy(source, rel, copy, new CopyOptions(null, true, null, r => !solver.Context.IsExcluded(r)));
                await WithBindsAsync(binds, index + 1, [.. mounts, new BindMount(copy, m.Target!, !m.ReadOnly)], run, ct).ConfigureAwait(false);
            }
            finally { Img.Fs.FileTree.RemoveTree(dir); }
            return;
        }
        await solver.Snapshots.WithViewAsync<bool>(snapshot.Length == 0 ? null : snapshot, async root =>
        {
            var host = RootPath.Resolve(root, "/" + source);
            await WithBindsAsync(binds, index + 1, [.. mounts, new BindMount(host, m.Target!, !m.ReadOnly)], run, ct).ConfigureAwait(false);
            return true;
        }, ct).ConfigureAwait(false);
    }

    /// <summary>The cache key and snapshot of a stage or image named by --from.</summary>
    private async Task<(string Key, string? Snapshot)> SourceOfAsync(string from, CancellationToken ct)
    {
        var other = solver.Plan.FindStage(from);
        if (other is not null)
        {
            if (other.Index >= stage.Index)
                throw new BuildFailedException($"failed to solve: cannot copy from stage \"{from}\", it needs to be defined before current stage \"{DisplayName}\"");
            var s = await solver.StageAsync(other.Index, ct).ConfigureAwait(false);
            return (s.Key, s.Snapshot);
        }
        var image = await solver.Images.GetAsync(from, ct).ConfigureAwait(false);
        return (image.Key, image.Snapshot);
    }

    // ---- COPY / ADD -------------------------------------------------------------------------------

    private sealed record CopyRequest(SourcesAndDest Files, string? From, string? Chown, string? Chmod, bool Parents,
        IReadOnlyList<string> Excludes, bool IsAdd, bool? Unpack, string? Checksum);

    private async Task CopyAsync(CopyRequest req, Instruction raw, StageScope scope, CancellationToken ct)
    {
        var verb = req.IsAdd ? "ADD" : "COPY";
        var workdir = Config.Config.WorkingDir is { Length: > 0 } w ? w : "/";
        var dest = req.Files.Dest;
        var destIsDir = dest.Length == 0 || dest.EndsWith('/') || dest == "." || dest.EndsWith("/.", StringComparison.Ordinal);
        var destPath = CleanAbs(dest.StartsWith('/') ? dest : workdir + "/" + dest);
        var sourceCount = req.Files.SourcePaths.Count + req.Files.SourceContents.Count;
        if (sourceCount > 1 && !destIsDir)
            throw new BuildFailedException($"failed to solve: Dockerfile:{raw.Location.StartLine}: When using {verb} with more than one source file, the destination must be a directory and end with a /");
        var chmod = req.Chmod is null ? null : ChmodSpec.Parse(req.Chmod);
        var excludes = req.Excludes.Count > 0 ? new PatternMatcher(req.Excludes) : null;
        var keyParts = new List<string> { verb, destPath, destIsDir.ToString(), req.Chown ?? "", req.Chmod ?? "", req.Parents.ToString(), string.Join('\0', req.Excludes) };

        // Where the sources come from: the context, another stage or an image.
        string? fromSnapshot = null;
        bool fromContext = req.From is null;
        if (!fromContext)
        {
            var (key, snapshot) = await SourceOfAsync(req.From!, ct).ConfigureAwait(false);
            keyParts.Add("from " + key);
            fromSnapshot = snapshot;
        }

        var urls = new List<(string Url, string File)>();
        var contextSources = new List<(string Pattern, List<string> Matches)>();
        try
        {
            foreach (var src in req.Files.SourcePaths)
            {
                if (req.IsAdd && (src.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || src.StartsWith("https://", StringComparison.OrdinalIgnoreCase)))
                {
                    var (file, digest) = await DownloadAsync(src, req.Checksum, ct).ConfigureAwait(false);
                    urls.Add((src, file));
                    keyParts.Add($"url {src} {digest}");
                    continue;
                }
                if (req.Checksum is not null) throw new BuildFailedException("failed to solve: checksum can't be specified for non-HTTP(S) sources");
                if (fromContext)
                {
                    var matches = solver.Context.Match(src);
                    if (matches.Count == 0 && !SourcePattern.HasWildcard(src))
                        throw new BuildFailedException($"failed to solve: failed to compute cache key: \"/{SourcePattern.Clean(src)}\": not found");
                    contextSources.Add((src, matches));
                    keyParts.Add("src " + src + "\0" + string.Join('\0', matches) + "\0" + await solver.Context.DigestAsync(matches, ct).ConfigureAwait(false));
                }
                else
                {
                    keyParts.Add("src " + src);
                }
            }
            foreach (var content in req.Files.SourceContents)
                keyParts.Add("heredoc " + content.Path + "\0" + (content.Expand ? scope.ExpandHeredoc(content.Data) : content.Data));

            var before = _state.Layers.Count;
            _state = await solver.LayerStepAsync(_state, StepName(raw), $"{verb} {string.Join(' ', req.Files.SourcePaths)} {destPath}", keyParts, async (rootfs, step) =>
            {
                var owner = req.Chown is null ? ((uint, uint)?)null : ResolveOwner(rootfs, req.Chown);
                var options = new CopyOptions(owner, !fromContext, chmod) { Warn = w => step.Log("WARNING: " + w) };
                if (fromContext)
                {
                    foreach (var (pattern, matches) in contextSources)
                    {
                        foreach (var rel in matches.Where(r => excludes?.MatchesOrParentMatches(Path.GetFileName(r)) != true))
                        {
                            var notExcluded = NotExcludedBelow(rel, excludes);
                            var include = (string r) => !solver.Context.IsExcluded(r) && notExcluded(r);
                            await CopyOneAsync(rootfs, solver.Context.HostPath(rel), rel, SourcePattern.ParentsPivot(pattern), destPath, destIsDir, req, options with { Include = include }, true, ct).ConfigureAwait(false);
                        }
                    }
                }
                else
                {
                    await solver.Snapshots.WithViewAsync(fromSnapshot, async srcRoot =>
                    {
                        foreach (var src in req.Files.SourcePaths)
                        {
                            var pattern = SourcePattern.Clean(src);
                            var matches = SourcePattern.HasWildcard(pattern) ? SourcePattern.Match(srcRoot, pattern) : [pattern];
                            foreach (var rel in matches.Where(r => excludes?.MatchesOrParentMatches(Path.GetFileName(r)) != true))
                            {
                                var host = RootPath.Resolve(srcRoot, "/" + rel);
                                if (Posix.TryLstat(host) is null)
                                    throw new BuildFailedException($"failed to solve: failed to compute cache key: \"/{rel}\": not found");
                                var include = NotExcludedBelow(rel, excludes);
                                await CopyOneAsync(rootfs, host, rel, SourcePattern.ParentsPivot(src), destPath, destIsDir, req, options with { Include = include }, false, ct).ConfigureAwait(false);
                            }
                        }
                        return true;
                    }, ct).ConfigureAwait(false);
                }
                foreach (var (url, file) in urls)
                {
                    var name = Path.GetFileName(new Uri(url).AbsolutePath);
                    if (name.Length == 0) name = "index.html";
                    var target = destIsDir ? DestDir(rootfs, destPath, owner) + "/" + name : DestFile(rootfs, destPath, owner);
                    CopyDownloaded(file, target, owner, chmod);
                }
                foreach (var content in req.Files.SourceContents)
                {
                    var data = content.Expand ? scope.ExpandHeredoc(content.Data) : content.Data;
                    var target = destIsDir ? DestDir(rootfs, destPath, owner) + "/" + content.Path : DestFile(rootfs, destPath, owner);
                    var exists = Posix.TryLstat(target);
                    if (exists is not null && !exists.Value.IsDirectory) File.Delete(target);
                    await File.WriteAllTextAsync(target, data, new UTF8Encoding(false), ct).ConfigureAwait(false);
                    File.SetUnixFileMode(target, (UnixFileMode)(chmod?.Apply(0x1A4, false) ?? 0x1A4));
                    var (u, g) = owner ?? (0, 0);
                    Posix.Lchown(target, u, g);
                }
            }, ct).ConfigureAwait(false);
            LayerHistory(HistoryText.Copy(verb, req.Parents, req.Chown, req.Chmod, req.Files) + " # buildkit", before);
        }
        finally
        {
            foreach (var (_, file) in urls) File.Delete(file);
        }
    }

    /// <summary>
    /// --exclude patterns match paths relative to the source being copied (BuildKit: <c>ADD --exclude=*.mp3 dir3/ /3/</c>
    /// leaves out dir3/file.mp3); <paramref name="source"/> is that source's path, a prefix of what the copier passes.
    /// </summary>
    private static Func<string, bool> NotExcludedBelow(string source, PatternMatcher? excludes) => excludes is null
        ? _ => true
        : r => !excludes.MatchesOrParentMatches(source.Length == 0 ? r : r.Length > source.Length ? r[(source.Length + 1)..] : "");

    /// <summary>
    /// Copies one match of a source. Several matches of a wildcard go one after another onto a destination without a
    /// trailing slash, as BuildKit does (a file destination ends up holding the last); <paramref name="pivot"/> is the
    /// part of a <c>--parents</c> source before <c>/./</c>, left out of the copied path.
    /// </summary>
    private async Task CopyOneAsync(string rootfs, string hostSource, string rel, string pivot, string destPath, bool destIsDir, CopyRequest req, CopyOptions options, bool followTop, CancellationToken ct)
    {
        var st = Posix.Lstat(hostSource);
        if (followTop && st.IsSymlink)
        {
            // A context source that is a symlink is followed (it must stay inside the context).
            var resolved = RootPath.Resolve(solver.Context.Directory, "/" + rel);
            if (Posix.TryLstat(resolved) is { } rs) { hostSource = resolved; st = rs; }
        }
        var target = destPath;
        if (req.Parents)
        {
            var kept = pivot.Length > 0 && rel.StartsWith(pivot + "/", StringComparison.Ordinal) ? rel[(pivot.Length + 1)..] : rel;
            var parent = Path.GetDirectoryName(kept)?.Replace('\\', '/') ?? "";
            target = CleanAbs(destPath + "/" + parent);
            destIsDir = true;
        }
        if (st.IsDirectory)
        {
            var dirTarget = req.Parents ? CleanAbs(target + "/" + Path.GetFileName(rel)) : target;
            FileCopier.Copy(hostSource, rel, DestDir(rootfs, dirTarget, options.Owner), options);
            return;
        }
        if (req.IsAdd && req.Unpack != false && st.IsRegular && await IsArchiveAsync(hostSource, ct).ConfigureAwait(false))
        {
            var dir = DestDir(rootfs, target, options.Owner);
            // Entries are resolved inside the rootfs and owned as they are created (--chown too), so nothing
            // walks the extracted tree afterwards by path. An owner this namespace cannot map is an error, not root.
            var unpack = new ApplyOptions
            {
                Owner = options.Owner,
                SkipUnmappedOwnership = false,
                RecordOwners = Img.Runtime.Namespaces.Isolation.Current.RecordsOwners,
                Warn = options.Warn,
                MaxTotalBytes = solver.Request.Limits.MaxUnpackSize ?? long.MaxValue,
            };
            try { await LayerApplier.ApplyFileAsync(hostSource, dir, unpack, ct).ConfigureAwait(false); }
            catch (LayerSecurityException e) when (solver.Request.Limits.MaxUnpackSize is not null)
            {
                throw new BuildFailedException($"failed to solve: ADD {rel}: {e.Message} ({InputLimits.MaxUnpackSizeVariable})", e);
            }
            return;
        }
        var existingDir = Posix.TryLstat(RootPath.Resolve(rootfs, target)) is { IsDirectory: true };
        string file = destIsDir || existingDir
            ? DestDir(rootfs, target, options.Owner) + "/" + Path.GetFileName(rel)
            : DestFile(rootfs, target, options.Owner);
        FileCopier.Copy(hostSource, rel, file, options);
    }

    private static async Task<bool> IsArchiveAsync(string path, CancellationToken ct)
    {
        var head = new byte[512];
        int n;
        var fs = File.OpenRead(path);
        await using (fs.ConfigureAwait(false))
            n = await fs.ReadAtLeastAsync(head, head.Length, false, ct).ConfigureAwait(false);
        if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b) return true;
        if (n >= 4 && head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f && head[3] == 0xfd) return true;
        return n >= 262 && Encoding.ASCII.GetString(head, 257, 5) == "ustar";
    }

    private static string DestDir(string rootfs, string path, (uint, uint)? owner) => FileCopier.MakeDirectories(rootfs, path, owner);

    private static string DestFile(string rootfs, string path, (uint, uint)? owner)
    {
        var parent = Path.GetDirectoryName(path)?.Replace('\\', '/') ?? "/";
        var dir = FileCopier.MakeDirectories(rootfs, parent.Length == 0 ? "/" : parent, owner);
        return Path.Combine(dir, Path.GetFileName(path));
    }

    private static void CopyDownloaded(string file, string target, (uint, uint)? owner, ChmodSpec? chmod)
    {
        var existing = Posix.TryLstat(target);
        if (existing is { IsDirectory: true }) Img.Fs.FileTree.RemoveTree(target);
        else if (existing is not null) File.Delete(target);
        File.Copy(file, target);
        File.SetUnixFileMode(target, (UnixFileMode)(chmod?.Apply(0x180, false) ?? 0x180)); // 0600, as BuildKit's http source
        var (u, g) = owner ?? (0, 0);
        Posix.Lchown(target, u, g);
    }

    /// <summary>Resolves <c>--chown</c>: names through the rootfs's passwd/group; a user without a group uses the uid as gid.</summary>
    internal static (uint, uint) ResolveOwner(string rootfs, string chown)
    {
        var colon = chown.IndexOf(':', StringComparison.Ordinal);
        var userPart = colon < 0 ? chown : chown[..colon];
        var groupPart = colon < 0 ? null : chown[(colon + 1)..];
        uint uid, gid;
        try
        {
            uid = uint.TryParse(userPart, NumberStyles.None, CultureInfo.InvariantCulture, out var u) ? u : ExecUser.Resolve(rootfs, userPart).Uid;
            if (groupPart is null) gid = uid;
            else if (uint.TryParse(groupPart, NumberStyles.None, CultureInfo.InvariantCulture, out var g)) gid = g;
            else gid = ExecUser.Resolve(rootfs, "0:" + groupPart).Gid;
        }
        catch (InvalidOperationException e)
        {
            throw new BuildFailedException("failed to solve: " + e.Message, e);
        }
        return (uid, gid);
    }

    private Task<(string File, Digest Digest)> DownloadAsync(string url, string? checksum, CancellationToken ct) =>
        UrlDownload.FetchAsync(solver.Store.Content, solver.Request.Limits, solver.Images.TransferOptions, url, checksum, ct);
}
