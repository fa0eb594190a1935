namespace Img.Dockerfile.Checks;

/// <summary>One of BuildKit's Dockerfile build checks: its name, what it is about, and its documentation page.</summary>
/// <param name="Name">The rule name (<c>StageNameCasing</c>), as <c># check=skip=</c> and the output spell it.</param>
/// <param name="Description">What the rule asks for.</param>
/// <param name="Url">BuildKit's documentation page for the rule.</param>
public sealed record CheckRule(string Name, string Description, string Url)
{
    private static CheckRule Of(string name, string page, string description) =>
        new(name, description, "https://docs.docker.com/go/dockerfile/rule/" + page + "/");

    public static CheckRule StageNameCasing { get; } = Of("StageNameCasing", "stage-name-casing", "Stage names should be lowercase");
    public static CheckRule FromAsCasing { get; } = Of("FromAsCasing", "from-as-casing", "The 'as' keyword should match the case of the 'from' keyword");
    public static CheckRule ConsistentInstructionCasing { get; } = Of("ConsistentInstructionCasing", "consistent-instruction-casing",
        "All commands within the Dockerfile should use the same casing (either upper or lower)");
    public static CheckRule DuplicateStageName { get; } = Of("DuplicateStageName", "duplicate-stage-name", "Stage names should be unique");
    public static CheckRule ReservedStageName { get; } = Of("ReservedStageName", "reserved-stage-name", "Reserved words should not be used as stage names");
    public static CheckRule JsonArgsRecommended { get; } = Of("JSONArgsRecommended", "json-args-recommended",
        "JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS signals");
    public static CheckRule MaintainerDeprecated { get; } = Of("MaintainerDeprecated", "maintainer-deprecated",
        "The MAINTAINER instruction is deprecated, use a label instead to define an image author");
    public static CheckRule UndefinedArgInFrom { get; } = Of("UndefinedArgInFrom", "undefined-arg-in-from", "FROM command must use declared ARGs");
    public static CheckRule WorkdirRelativePath { get; } = Of("WorkdirRelativePath", "workdir-relative-path",
        "Relative workdir without an absolute workdir declared within the build can have unexpected results if the base image changes");
    public static CheckRule UndefinedVar { get; } = Of("UndefinedVar", "undefined-var", "Variables should be defined before their use");
    public static CheckRule LegacyKeyValueFormat { get; } = Of("LegacyKeyValueFormat", "legacy-key-value-format",
        "Legacy key/value format with whitespace separator should not be used");
    public static CheckRule SecretsUsedInArgOrEnv { get; } = Of("SecretsUsedInArgOrEnv", "secrets-used-in-arg-or-env",
        "Sensitive data should not be used in the ARG or ENV commands");

    public static CheckRule NoEmptyContinuation { get; } = Of("NoEmptyContinuation", "no-empty-continuation", "Empty continuation lines will become errors in a future release");
    public static CheckRule MultipleInstructionsDisallowed { get; } = Of("MultipleInstructionsDisallowed", "multiple-instructions-disallowed",
        "Multiple instructions of the same type should not be used in the same stage");
    public static CheckRule RedundantTargetPlatform { get; } = Of("RedundantTargetPlatform", "redundant-target-platform",
        "Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior");

    /// <summary>Every rule img checks.</summary>
    public static IReadOnlyList<CheckRule> All { get; } =
    [
        StageNameCasing, FromAsCasing, ConsistentInstructionCasing, DuplicateStageName, ReservedStageName, JsonArgsRecommended,
        MaintainerDeprecated, UndefinedArgInFrom, WorkdirRelativePath, UndefinedVar, LegacyKeyValueFormat, SecretsUsedInArgOrEnv,
        NoEmptyContinuation, MultipleInstructionsDisallowed, RedundantTargetPlatform,
    ];
}

/// <summary>One violation: the rule, BuildKit's message for it, and the Dockerfile lines it points at.</summary>
public sealed record CheckWarning(CheckRule Rule, string Detail, int StartLine, int EndLine)
{
    /// <summary>The one-line form a normal build prints: <c>Rule: detail (line N)</c>.</summary>
    public override string ToString() => $"{Rule.Name}: {Detail} (line {StartLine})";
}
