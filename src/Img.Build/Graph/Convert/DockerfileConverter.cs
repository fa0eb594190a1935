using Img.Dockerfile;
using Img.Oci;

namespace Img.Build.Graph.Convert;

/// <summary>
/// Turns a Dockerfile into the build graph (BuildKit's <c>dockerfile2llb</c>): a pure function of the document and
/// the build's inputs. Words are expanded and stages looked up here, once, not while the graph runs; only the stages
/// the target reaches are converted. ONBUILD triggers of a base image come in through its resolved config
/// (<see cref="ConvertOptions.Images"/>): without it the converter cannot know them.
/// </summary>
public static class DockerfileConverter
{
    /// <summary>One graph per platform of <see cref="ConvertOptions.Platforms"/>, each from a plan of its own.</summary>
    /// <exception cref="DockerfileException">A planning or expansion error, with its line.</exception>
    public static BuildGraph Convert(DockerfileDocument document, ConvertOptions options)
    {
        if (options.Platforms.Count == 0)
            throw new ArgumentException("at least one platform is needed", nameof(options));
        var sources = new SourceVertices(options);
        var multi = options.Platforms.Count > 1;
        return new BuildGraph([.. options.Platforms.Select(p =>
            new PlatformConversion(BuildPlan.Create(document, PlanOptions(options, p)), options, p, sources, multi ? p + " " : "").Convert())]);
    }

    /// <summary>The graph of one plan, for the platform it was made for.</summary>
    public static PlatformGraph Convert(BuildPlan plan, ConvertOptions options)
    {
        var info = plan.Options.TargetPlatform;
        var platform = Platform.Normalize(new Platform { OS = info.OS, Architecture = info.Architecture, Variant = info.Variant });
        return new PlatformConversion(plan, options, platform, new SourceVertices(options), "").Convert();
    }

    private static BuildOptions PlanOptions(ConvertOptions options, Platform platform) => new()
    {
        BuildArgs = options.BuildArgs,
        Target = options.Target,
        TargetPlatform = Info(platform),
        BuildPlatform = Info(options.BuildPlatform),
    };

    private static PlatformInfo Info(Platform p) => new(p.OS, p.Architecture, p.Variant);
}

/// <summary>The conversion of one platform's plan: converts each stage once, when the target first reaches it.</summary>
internal sealed class PlatformConversion(BuildPlan plan, ConvertOptions options, Platform platform, SourceVertices sources, string namePrefix)
{
    private readonly Dictionary<int, ConvertedStage> _stages = [];
    private readonly List<ConvertedStage> _order = [];
    private readonly HashSet<int> _converting = [];

    public BuildPlan Plan { get; } = plan;

    public ConvertOptions Options { get; } = options;

    /// <summary>The platform built for (<c>TARGETPLATFORM</c>).</summary>
    public Platform Platform { get; } = platform;

    public SourceVertices Sources { get; } = sources;

    /// <summary>Put before a stage's name in vertex names when several platforms are built, as BuildKit shows them.</summary>
    public string NamePrefix { get; } = namePrefix;

    public PlatformGraph Convert()
    {
        foreach (var stage in Plan.BuildOrder)
            Stage(stage.Index);
        return new PlatformGraph(Platform, Plan, Stage(Plan.Target.Index), _order);
    }

    /// <summary>Stage <paramref name="index"/>, converted on first use.</summary>
    public ConvertedStage Stage(int index)
    {
        if (_stages.TryGetValue(index, out var done)) return done;
        var stage = Plan.Stages[index];
        // The plan has no cycles; an ONBUILD trigger of a resolved base image can still name the stage it is in.
        if (!_converting.Add(index))
            throw new DockerfileException($"circular dependency detected on stage: {stage.Stage.DisplayName}");
        var converted = new StageConverter(this, stage).Convert();
        _converting.Remove(index);
        _stages[index] = converted;
        _order.Add(converted);
        return converted;
    }

    /// <summary>
    /// What <c>COPY --from</c> and <c>RUN --mount from=</c> name: an earlier stage, else a named context or an image
    /// for the platform built for.
    /// </summary>
    public SourceVertex From(string name, PlannedStage reader, int line)
    {
        if (Plan.FindStage(name) is not { } other)
            return Sources.Named(name, Platform, line);
        if (other.Index >= reader.Index)
            throw new DockerfileException(
                $"cannot copy from stage \"{name}\", it needs to be defined before current stage \"{reader.Stage.DisplayName}\"", line);
        var source = Stage(other.Index);
        return new SourceVertex(source.Root ?? SourceVertices.Scratch, source.Config);
    }
}
