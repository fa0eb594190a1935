namespace Img.Dockerfile.Checks;

/// <summary>
/// BuildKit's build checks (<c>--check</c>, and the warnings of a normal build): runs every rule the
/// <c># check=</c> directive (or the <c>BUILDKIT_DOCKERFILE_CHECK</c> build-arg) leaves on, results ordered by line.
/// </summary>
public static class DockerfileLinter
{
    /// <summary>The build-arg that overrides the <c># check=</c> directive, as in BuildKit.</summary>
    public const string CheckBuildArg = "BUILDKIT_DOCKERFILE_CHECK";

    private static readonly IDockerfileCheck[] s_checks =
    [
        new StageNameCasingCheck(), new FromAsCasingCheck(), new ConsistentInstructionCasingCheck(), new DuplicateStageNameCheck(),
        new ReservedStageNameCheck(), new JsonArgsRecommendedCheck(), new MaintainerDeprecatedCheck(), new UndefinedArgInFromCheck(),
        new WorkdirRelativePathCheck(), new UndefinedVarCheck(), new LegacyKeyValueFormatCheck(), new SecretsUsedInArgOrEnvCheck(),
        new NoEmptyContinuationCheck(), new MultipleInstructionsDisallowedCheck(), new RedundantTargetPlatformCheck(),
    ];

    /// <summary>Checks <paramref name="input"/> under <paramref name="settings"/>.</summary>
    public static IReadOnlyList<CheckWarning> Check(CheckInput input, CheckSettings settings) =>
        s_checks.Where(c => settings.Runs(c.Rule)).SelectMany(c => c.Check(input))
            .OrderBy(w => w.StartLine).ThenBy(w => w.Rule.Name, StringComparer.Ordinal).ToList();

    /// <summary>The settings of a Dockerfile: the build-arg when given, else its <c># check=</c> directive, else all rules as warnings.</summary>
    /// <exception cref="DockerfileException">The setting does not parse.</exception>
    public static CheckSettings Settings(DockerfileDocument document, IReadOnlyDictionary<string, string> buildArgs)
    {
        if (buildArgs.TryGetValue(CheckBuildArg, out var fromArg)) return CheckSettings.Parse(fromArg);
        var directive = document.Syntax.Directives.FirstOrDefault(d => d.Name.Equals("check", StringComparison.OrdinalIgnoreCase));
        return directive is null ? CheckSettings.Default : CheckSettings.Parse(directive.Value);
    }
}
