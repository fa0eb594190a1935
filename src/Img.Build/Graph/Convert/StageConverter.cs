using Img.Dockerfile;
using Img.Oci;

namespace Img.Build.Graph.Convert;

/// <summary>What a file step is converted with: the stage so far and where the step is written.</summary>
internal sealed record StepContext(PlatformConversion Conversion, PlannedStage Stage, StageConfig Config, Vertex? Root, StageScope Scope, int Line)
{
    public ConvertOptions Options => Conversion.Options;
}

/// <summary>An op and the vertices it takes, as a step converter assembles them.</summary>
internal sealed record StepOp(IOpDefinition Definition, IReadOnlyList<Vertex> Inputs);

/// <summary>
/// Converts one stage's instructions in order: each is expanded in the stage's scope (<see cref="StageScope.Apply"/>),
/// config instructions give a new <see cref="StageConfig"/> (<see cref="ConfigInstructions"/>), and RUN, COPY, ADD and
/// WORKDIR each add a vertex on the stage's filesystem so far, and a history entry naming it.
/// </summary>
internal sealed class StageConverter(PlatformConversion conversion, PlannedStage stage)
{
    private Vertex? _root;
    private StageConfig _config = null!;
    private int _position = 1;
    private int _total;

    public ConvertedStage Convert()
    {
        var (root, config, args, from) = Base();
        var triggers = config.OnBuild.Count > 0
            ? OnbuildTriggers.Parse(config.OnBuild, conversion.Plan.Document.Syntax.EscapeToken)
            : [];
        _config = config.Started();
        var instructions = triggers.Concat(stage.Stage.Commands).ToList();
        _total = 1 + instructions.Count(i => i is RunInstruction or CopyInstruction or AddInstruction or WorkdirInstruction);
        // Named as BuildKit shows the step; the digest is the source's, so every stage FROM it shares the vertex.
        _root = root is null || from is null ? root : new Vertex(Name(1, "FROM " + from), root.Definition, root.Inputs, root.IgnoreCache);
        var scope = conversion.Plan.CreateScope(stage, _config.Env, args);
        foreach (var raw in instructions)
            Dispatch(scope.Apply(raw), raw, scope);
        return new ConvertedStage(stage, _root, _config, scope.DeclaredArgs);
    }

    /// <summary>The stage's starting filesystem, config and inherited ARGs; <c>from</c> names an image base.</summary>
    private (Vertex? Root, StageConfig Config, IReadOnlyList<KeyValuePair<string, string?>> Args, string? From) Base()
    {
        if (stage.BaseStageIndex is { } parent)
        {
            var built = conversion.Stage(parent);
            return (built.Root, built.Config, built.Args, null);
        }
        var platform = StagePlatform();
        if (stage.IsScratch && !conversion.Options.NamedContexts.ContainsKey("scratch"))
            return (null, StageConfig.Scratch(platform), [], null);
        var source = conversion.Sources.Named(stage.BaseName, platform, stage.Stage.From.Location.StartLine);
        var named = conversion.Options.NamedContexts.ContainsKey(stage.BaseName.ToLowerInvariant());
        var shown = !named && Reference.TryParse(stage.BaseName, out var parsed, out _) ? parsed!.ToString() : stage.BaseName;
        return (source.Vertex, source.Config, [], shown);
    }

    /// <summary>The stage's <c>FROM --platform</c>, else the platform built for.</summary>
    private Platform StagePlatform()
    {
        if (stage.Platform is not { Length: > 0 } p) return conversion.Platform;
        try { return Platform.Parse(p); }
        catch (FormatException e) { throw new DockerfileException(e.Message, stage.Stage.From.Location.StartLine); }
    }

    private void Dispatch(Instruction ins, Instruction raw, StageScope scope)
    {
        var step = new StepContext(conversion, stage, _config, _root, scope, raw.Location.StartLine);
        switch (ins)
        {
            case WorkdirInstruction workdir:
                Add(raw, Mkdir(_config.WorkdirPath(workdir.Path)));
                _config = _config.WithWorkdir(workdir.Path);
                _config = _config.WithHistory("WORKDIR " + _config.WorkingDir, _root);
                break;
            case RunInstruction run:
                var exec = ExecConverter.Convert(run, step);
                Add(raw, exec);
                var argv = ((ExecOp)exec.Definition).Args;
                _config = _config.WithHistory("RUN " + HistoryText.RunCommand(argv, scope.DeclaredArgs, scope.ExpansionEnvironment()) + " # buildkit", _root);
                break;
            case CopyInstruction copy:
                Copy(raw, CopyStep.Of(copy), step);
                break;
            case AddInstruction add:
                Copy(raw, CopyStep.Of(add), step);
                break;
            default:
                _config = ConfigInstructions.Apply(_config, ins, scope)?.WithLastHistoryAt(_root) ?? _config;
                break;
        }
    }

    private void Copy(Instruction raw, CopyStep copy, StepContext step)
    {
        Add(raw, CopyConverter.Convert(copy, step));
        _config = _config.WithHistory(HistoryText.Copy(copy.Verb, copy.Parents, copy.Chown, copy.Chmod, copy.Files) + " # buildkit", _root);
    }

    /// <summary>WORKDIR makes its directory (and the missing ones above it), owned by the stage's user.</summary>
    private StepOp Mkdir(string path)
    {
        var mkdir = new MkdirAction(path, 0b111_101_101) { MakeParents = true, Owner = FileOwners.Parse(_config.User) };
        return _root is null
            ? new StepOp(new FileOp([mkdir]) { BaseInput = null }, [])
            : new StepOp(new FileOp([mkdir]), [_root]);
    }

    private void Add(Instruction raw, StepOp op) =>
        _root = new Vertex(Name(++_position, raw.Location.Original.Trim()), op.Definition, op.Inputs, conversion.Options.NoCache);

    private string Name(int position, string text) => $"[{conversion.NamePrefix}{stage.Stage.DisplayName} {position}/{_total}] {text}";
}

/// <summary>The inputs of one op: the vertices it takes, each once, in the order first asked for.</summary>
internal sealed class InputList
{
    private readonly List<Vertex> _vertices = [];

    public IReadOnlyList<Vertex> Vertices => _vertices;

    /// <summary>The index of <paramref name="vertex"/>'s result among the inputs (equal digests share one).</summary>
    public int Add(Vertex vertex)
    {
        var i = _vertices.FindIndex(v => v.Digest == vertex.Digest);
        if (i >= 0) return i;
        _vertices.Add(vertex);
        return _vertices.Count - 1;
    }
}

/// <summary>Owners as the Dockerfile writes them (<c>user[:group]</c>).</summary>
internal static class FileOwners
{
    /// <summary>Null for an empty text (root, or the copier's default).</summary>
    public static FileOwner? Parse(string? text)
    {
        if (string.IsNullOrEmpty(text)) return null;
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? new FileOwner(text) : new FileOwner(text[..colon], text[(colon + 1)..]);
    }
}
