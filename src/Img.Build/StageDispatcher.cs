using Img.Dockerfile;
using Img.Oci;

namespace Img.Build;

/// <summary>
/// Runs one stage's instructions in order. Config-only instructions give a new config (<see cref="ConfigInstructions"/>);
/// RUN, COPY/ADD and WORKDIR are assembled by their family (<see cref="RunStep"/>, <see cref="CopyStep"/>,
/// <see cref="WorkdirStep"/>) and run through the solver's cache, each adding a layer and its history entry.
/// </summary>
internal sealed class StageDispatcher(Solver solver, PlannedStage stage)
{
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
        Config.Config.Env = env; // the copy BaseAsync made for this stage, not shared yet
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
            catch (DockerfileException e) { throw new BuildFailedException(e.Message, e); }
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
        var name = $"[{DisplayName} 1/{_total}] FROM {shown}";
        var from = solver.Progress.Start(name);
        BaseImage image;
        try { image = await solver.Images.GetAsync(stage.BaseName, platform, ct).ConfigureAwait(false); }
        catch (Exception e)
        {
            from.Error(e is OperationCanceledException ? "context canceled" : "base image not available");
            if (e is BuildFailedException failed) throw failed.InStep(name);
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
        catch (FormatException e) { throw new BuildFailedException(e.Message, e); }
    }

    /// <summary>The platform of the stage's files, which RUN executes: its config's (the base image's), else the stage's.</summary>
    private Platform RunPlatform() =>
        Config.Architecture.Length > 0
            ? Platform.Normalize(new Platform { OS = Config.OS.Length > 0 ? Config.OS : "linux", Architecture = Config.Architecture, Variant = Config.Variant })
            : StagePlatform();

    private string StepName(Instruction raw) => $"[{DisplayName} {++_position}/{_total}] {raw.Location.Original.Trim()}";

    // The time of the filesystem this step sees, not the wall clock: a build answered from cache is the same image.
    private DateTimeOffset? HistoryTime => solver.Request.SourceDateEpoch ?? _state.Created;

    private async Task DispatchAsync(Instruction ins, Instruction raw, StageScope scope, CancellationToken ct)
    {
        if (ConfigInstructions.Handles(ins))
        {
            var config = ConfigInstructions.Apply(Config, ins, new ConfigInputs(scope.ConfigEnv, _shell, _cmdSet, HistoryTime));
            _state = _state.WithConfig(config);
            if (ins is ShellInstruction shell) _shell = [.. shell.Shell];
            _cmdSet |= ins is CmdInstruction;
            return;
        }
        var inputs = new StepInputs(solver, stage, Config, _shell, scope, raw);
        switch (ins)
        {
            case WorkdirInstruction wd:
                var (configured, step) = WorkdirStep.Assemble(inputs, wd);
                _state = _state.WithConfig(configured);
                await RunLayerStepAsync(step, raw, ct).ConfigureAwait(false);
                break;
            case RunInstruction run:
                await RunLayerStepAsync(await RunStep.AssembleAsync(inputs, run, RunPlatform(), ct).ConfigureAwait(false), raw, ct).ConfigureAwait(false);
                break;
            case CopyInstruction copy:
                await RunLayerStepAsync(await CopyStep.AssembleAsync(inputs, CopyRequest.Of(copy), ct).ConfigureAwait(false), raw, ct).ConfigureAwait(false);
                break;
            case AddInstruction add:
                await RunLayerStepAsync(await CopyStep.AssembleAsync(inputs, CopyRequest.Of(add), ct).ConfigureAwait(false), raw, ct).ConfigureAwait(false);
                break;
            default:
                throw new BuildFailedException($"Dockerfile:{raw.Location.StartLine}: {raw.Name} is not supported");
        }
    }

    /// <summary>Runs <paramref name="step"/> (or takes it from the cache) and adds its history entry.</summary>
    private async Task RunLayerStepAsync(LayerStep step, Instruction raw, CancellationToken ct)
    {
        try
        {
            var before = _state.Layers.Count;
            _state = await solver.LayerStepAsync(_state, StepName(raw), step.Description, step.KeyParts, step.Change, ct).ConfigureAwait(false);
            _state = _state.WithConfig(ConfigInstructions.WithHistory(Config, step.History, HistoryTime, _state.Layers.Count == before));
        }
        finally
        {
            step.Release();
        }
    }
}
