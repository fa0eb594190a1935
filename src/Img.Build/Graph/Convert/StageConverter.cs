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
/// config instructions give a new <see cref="StageConfig"/>, and RUN, COPY, ADD and WORKDIR each add a vertex on the
/// stage's filesystem so far.
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
            case EnvInstruction:
                _config = _config with { Env = [.. scope.ConfigEnv] };
                break;
            case UserInstruction user:
                _config = _config with { User = user.User };
                break;
            case ShellInstruction shell:
                _config = _config with { Shell = [.. shell.Shell] };
                break;
            case OnbuildInstruction onbuild:
                _config = _config with { OnBuild = [.. _config.OnBuild, onbuild.Expression] };
                break;
            case WorkdirInstruction workdir:
                Add(raw, Mkdir(_config.WorkdirPath(workdir.Path)));
                _config = _config.WithWorkdir(workdir.Path);
                break;
            case RunInstruction run:
                Add(raw, ExecConverter.Convert(run, step));
                break;
            case CopyInstruction copy:
                Add(raw, CopyConverter.Convert(CopyStep.Of(copy), step));
                break;
            case AddInstruction add:
                Add(raw, CopyConverter.Convert(CopyStep.Of(add), step));
                break;
            // The rest (LABEL, CMD, EXPOSE …) shape only the image config, which no vertex reads.
        }
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
