namespace Img.Dockerfile;

/// <summary>Inputs of a build that shape the frontend's decisions.</summary>
public sealed record BuildOptions
{
    /// <summary><c>--build-arg</c> values.</summary>
    public IReadOnlyDictionary<string, string> BuildArgs { get; init; } = new Dictionary<string, string>();

    /// <summary><c>--target</c> stage name, or null for the last stage.</summary>
    public string? Target { get; init; }

    /// <summary>Platform the image is built for.</summary>
    public PlatformInfo TargetPlatform { get; init; } = new("linux", "amd64");

    /// <summary>Platform the build runs on.</summary>
    public PlatformInfo BuildPlatform { get; init; } = new("linux", "amd64");
}

/// <summary>Why a stage depends on something.</summary>
public enum DependencyKind
{
    /// <summary><c>FROM</c> a base.</summary>
    From,
    /// <summary><c>COPY --from</c>.</summary>
    Copy,
    /// <summary><c>RUN --mount=from=</c>.</summary>
    Mount,
}

/// <summary>A dependency of a stage on another stage (<see cref="StageIndex"/>) or on an image (<see cref="ImageRef"/>).</summary>
public sealed record StageDependency(DependencyKind Kind, int? StageIndex, string? ImageRef, int Line);

/// <summary>A stage with its FROM resolved against meta ARGs and its dependencies.</summary>
/// <param name="Stage">The parsed stage.</param>
/// <param name="BaseName">FROM image or stage name after expansion.</param>
/// <param name="BaseStageIndex">Index of the stage FROM refers to, or null for an image (or <c>scratch</c>).</param>
/// <param name="Platform">Expanded <c>--platform</c>, or null.</param>
/// <param name="Dependencies">FROM, COPY --from and RUN --mount from= dependencies.</param>
public sealed record PlannedStage(Stage Stage, string BaseName, int? BaseStageIndex, string? Platform, IReadOnlyList<StageDependency> Dependencies)
{
    /// <summary>Stage index.</summary>
    public int Index => Stage.Index;

    /// <summary>AS name or null.</summary>
    public string? Name => Stage.Name;

    /// <summary>Indices of stages this stage needs.</summary>
    public IEnumerable<int> StageDependencies => Dependencies.Where(d => d.StageIndex is not null).Select(d => d.StageIndex!.Value).Distinct();

    /// <summary>True when FROM is <c>scratch</c>.</summary>
    public bool IsScratch => BaseStageIndex is null && BaseName.Equals("scratch", StringComparison.OrdinalIgnoreCase);
}

/// <summary>
/// The semantic front end of a build: meta-ARG resolution, stage lookup, the dependency graph, the stages the target
/// needs and the order to build them in. Per-stage ARG/ENV expansion is done by <see cref="StageScope"/>.
/// </summary>
public sealed class BuildPlan
{
    /// <summary>Build-args that are visible to RUN without being declared, in either case.</summary>
    public static readonly IReadOnlySet<string> ProxyArgs = new HashSet<string>(StringComparer.Ordinal)
    {
        "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
        "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
    };

    private readonly Dictionary<string, string> _metaValues;

    private BuildPlan(DockerfileDocument document, BuildOptions options, Dictionary<string, string> builtins,
        Dictionary<string, string> metaValues, HashSet<string> metaDeclared, List<PlannedStage> stages, PlannedStage target,
        List<PlannedStage> order)
    {
        Document = document;
        Options = options;
        BuiltinArgs = builtins;
        _metaValues = metaValues;
        MetaArgsDeclared = metaDeclared;
        Stages = stages;
        Target = target;
        BuildOrder = order;
    }

    /// <summary>The parsed Dockerfile.</summary>
    public DockerfileDocument Document { get; }

    /// <summary>The options the plan was made with.</summary>
    public BuildOptions Options { get; }

    /// <summary>BUILDPLATFORM, TARGETOS, TARGETSTAGE, ... and their values.</summary>
    public IReadOnlyDictionary<string, string> BuiltinArgs { get; }

    /// <summary>Values of meta ARGs (and builtins) usable in FROM lines and inherited by <c>ARG name</c> in stages.</summary>
    public IReadOnlyDictionary<string, string> MetaArgs => _metaValues;

    /// <summary>Names of ARGs declared before the first FROM.</summary>
    public IReadOnlySet<string> MetaArgsDeclared { get; }

    /// <summary>All stages, by index.</summary>
    public IReadOnlyList<PlannedStage> Stages { get; }

    /// <summary>The stage being built.</summary>
    public PlannedStage Target { get; }

    /// <summary>Stages the target needs (including itself), dependencies first.</summary>
    public IReadOnlyList<PlannedStage> BuildOrder { get; }

    /// <summary>
    /// Build-args that no ARG declares anywhere (docker warns about these), sorted. Proxy and builtin args are not
    /// among them, nor those the builder reads itself: <c>SOURCE_DATE_EPOCH</c> and BuildKit's <c>BUILDKIT_*</c> options.
    /// </summary>
    public IEnumerable<string> UnusedBuildArgs
    {
        get
        {
            var declared = new HashSet<string>(MetaArgsDeclared);
            foreach (var s in Document.Stages)
                foreach (var a in s.Commands.OfType<ArgInstruction>())
                    declared.UnionWith(a.Args.Select(d => d.Key));
            return Options.BuildArgs.Keys.Where(k => !declared.Contains(k) && !ProxyArgs.Contains(k) && !BuiltinArgs.ContainsKey(k) && !IsBuilderArg(k))
                .Order(StringComparer.Ordinal);
        }
    }

    private static bool IsBuilderArg(string name) => name == "SOURCE_DATE_EPOCH" || name.StartsWith("BUILDKIT_", StringComparison.Ordinal);

    /// <summary>Finds a stage by (case-insensitive) name or numeric index.</summary>
    public PlannedStage? FindStage(string nameOrIndex)
    {
        var lower = nameOrIndex.ToLowerInvariant();
        var byName = Stages.FirstOrDefault(s => s.Name == lower);
        if (byName is not null)
            return byName;
        return int.TryParse(nameOrIndex, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var i) && i < Stages.Count ? Stages[i] : null;
    }

    /// <summary>
    /// Creates the per-stage ARG/ENV scope, seeded with the base image's environment and, for a stage built
    /// <c>FROM</c> another stage, that stage's ARGs (<see cref="StageScope.DeclaredArgs"/>), which BuildKit carries over.
    /// </summary>
    public StageScope CreateScope(PlannedStage stage, IEnumerable<string>? baseImageEnv = null, IEnumerable<KeyValuePair<string, string?>>? baseStageArgs = null) =>
        new(this, stage, baseImageEnv ?? [], baseStageArgs ?? []);

    /// <summary>Parses a Dockerfile and plans it.</summary>
    public static BuildPlan Create(string dockerfile, BuildOptions options) => Create(DockerfileDocument.Parse(dockerfile), options);

    /// <summary>Plans a parsed Dockerfile. Throws <see cref="DockerfileException"/> for graph and ARG errors.</summary>
    public static BuildPlan Create(DockerfileDocument document, BuildOptions options)
    {
        if (document.Stages.Count == 0)
            throw new DockerfileException("dockerfile contains no stages to build");

        var targetName = options.Target?.ToLowerInvariant();
        var builtins = Builtins(options, targetName);
        var (metaValues, metaDeclared) = ResolveMetaArgs(document, options, builtins);

        var lex = new ShellLex(document.Syntax.EscapeToken);
        var names = document.Stages.Where(s => s.Name is not null).Select(s => s.Name!).ToList();

        // FROM lines are expanded against meta ARGs only.
        var resolved = new List<(string Base, int? BaseIndex, string? Platform)>();
        foreach (var stage in document.Stages)
        {
            var loc = stage.From.Location;
            try
            {
                var baseName = lex.ProcessWord(stage.From.BaseName, metaValues);
                if (baseName.Length == 0)
                    throw new DockerfileException($"base name ({stage.From.BaseName}) should not be blank");
                var platform = stage.From.Platform is null ? null : lex.ProcessWord(stage.From.Platform, metaValues);
                var baseIndex = document.Stages.FirstOrDefault(s => s.Index != stage.Index && s.Name == baseName.ToLowerInvariant())?.Index;
                resolved.Add((baseName, baseIndex, platform));
            }
            catch (Exception e) when (e is ShellExpansionException or DockerfileException)
            {
                throw DockerfileException.At(e, loc.StartLine, loc.EndLine);
            }
        }

        var planned = new List<PlannedStage>();
        foreach (var stage in document.Stages)
        {
            var (baseName, baseIndex, platform) = resolved[stage.Index];
            var deps = new List<StageDependency>
            {
                new(DependencyKind.From, baseIndex, baseIndex is null ? baseName : null, stage.From.Location.StartLine),
            };
            var commands = stage.Commands.AsEnumerable();
            if (baseIndex is { } bi)
                commands = OnbuildCommands(document.Stages[bi]).Concat(commands);
            foreach (var ins in commands)
                deps.AddRange(CommandDependencies(ins, document));
            planned.Add(new PlannedStage(stage, baseName, baseIndex, platform, deps));
        }

        DetectCycles(planned);
        CheckOrder(planned);

        PlannedStage target;
        if (targetName is null)
        {
            target = planned[^1];
        }
        else
        {
            target = planned.FirstOrDefault(s => s.Name == targetName)
                ?? throw new DockerfileException(Suggest.Wrap($"target stage {GoQuote.Quote(options.Target!)} could not be found", targetName, names));
        }

        var order = new List<PlannedStage>();
        Visit(target, planned, order, []);
        return new BuildPlan(document, options, builtins, metaValues, metaDeclared, planned, target, order);
    }

    private static Dictionary<string, string> Builtins(BuildOptions options, string? target)
    {
        var t = options.TargetPlatform;
        var b = options.BuildPlatform;
        return new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["BUILDPLATFORM"] = b.ToString(),
            ["BUILDOS"] = b.OS,
            ["BUILDARCH"] = b.Architecture,
            ["BUILDVARIANT"] = b.Variant ?? "",
            ["TARGETPLATFORM"] = t.ToString(),
            ["TARGETOS"] = t.OS,
            ["TARGETARCH"] = t.Architecture,
            ["TARGETVARIANT"] = t.Variant ?? "",
            ["TARGETSTAGE"] = target ?? "default",
        };
    }

    private static (Dictionary<string, string> Values, HashSet<string> Declared) ResolveMetaArgs(
        DockerfileDocument document, BuildOptions options, Dictionary<string, string> builtins)
    {
        var values = new Dictionary<string, string>(builtins, StringComparer.Ordinal);
        var declared = new HashSet<string>(StringComparer.Ordinal);
        var lex = new ShellLex(document.Syntax.EscapeToken);
        foreach (var arg in document.MetaArgs)
        {
            foreach (var def in arg.Args)
            {
                declared.Add(def.Key);
                try
                {
                    if (options.BuildArgs.TryGetValue(def.Key, out var provided))
                        values[def.Key] = provided;
                    else if (def.Value is not null)
                        values[def.Key] = lex.ProcessWord(def.Value, values);
                }
                catch (ShellExpansionException e)
                {
                    throw DockerfileException.At(e, arg.Location.StartLine, arg.Location.EndLine);
                }
            }
        }
        return (values, declared);
    }

    private static IEnumerable<Instruction> OnbuildCommands(Stage baseStage)
    {
        try
        {
            return OnbuildTriggers.Parse(baseStage.OnbuildTriggers);
        }
        catch (DockerfileException)
        {
            return []; // reported when the trigger itself is parsed/dispatched
        }
    }

    private static IEnumerable<StageDependency> CommandDependencies(Instruction ins, DockerfileDocument document)
    {
        switch (ins)
        {
            case CopyInstruction { From: { } from } copy:
                yield return Reference(DependencyKind.Copy, from, copy.Location.StartLine, document);
                break;
            case RunInstruction run:
                foreach (var m in run.Mounts)
                {
                    if (m.From is { Length: > 0 } mf)
                        yield return Reference(DependencyKind.Mount, mf, run.Location.StartLine, document);
                }
                break;
        }
    }

    private static StageDependency Reference(DependencyKind kind, string from, int line, DockerfileDocument document)
    {
        var lower = from.ToLowerInvariant();
        var byName = document.Stages.FirstOrDefault(s => s.Name == lower);
        if (byName is not null)
            return new StageDependency(kind, byName.Index, null, line);
        if (int.TryParse(from, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var index))
        {
            if (index >= document.Stages.Count)
                throw new DockerfileException($"invalid stage index {index}", line);
            return new StageDependency(kind, index, null, line);
        }
        return new StageDependency(kind, null, from, line);
    }

    private static void DetectCycles(List<PlannedStage> stages)
    {
        var state = new int[stages.Count]; // 0 = new, 1 = on stack, 2 = done
        void Walk(PlannedStage s)
        {
            state[s.Index] = 1;
            foreach (var d in s.StageDependencies)
            {
                if (state[d] == 1)
                    throw new DockerfileException($"circular dependency detected on stage: {stages[d].Stage.DisplayName}");
                if (state[d] == 0)
                    Walk(stages[d]);
            }
            state[s.Index] = 2;
        }
        foreach (var s in stages)
        {
            if (state[s.Index] == 0)
                Walk(s);
        }
    }

    private static void CheckOrder(List<PlannedStage> stages)
    {
        foreach (var s in stages)
        {
            foreach (var d in s.Dependencies)
            {
                if (d.Kind != DependencyKind.From && d.StageIndex is { } i && i >= s.Index)
                    throw new DockerfileException(
                        $"cannot copy from stage {GoQuote.Quote(stages[i].Stage.DisplayName)}, it needs to be defined before current stage {GoQuote.Quote(s.Stage.DisplayName)}",
                        d.Line);
            }
        }
    }

    /// <summary>Adds <paramref name="s"/> to <paramref name="order"/> after the stages it needs (cycles were refused before).</summary>
    private static void Visit(PlannedStage s, List<PlannedStage> all, List<PlannedStage> order, HashSet<int> visited)
    {
        if (!visited.Add(s.Index))
            return;
        foreach (var d in s.StageDependencies)
            Visit(all[d], all, order, visited);
        order.Add(s);
    }
}
