namespace Img.Dockerfile.Checks;

/// <summary>StageNameCasing: <c>FROM x AS Build</c> should name the stage in lower case.</summary>
public sealed class StageNameCasingCheck : IDockerfileCheck
{
    public CheckRule Rule => CheckRule.StageNameCasing;

    public IEnumerable<CheckWarning> Check(CheckInput input)
    {
        foreach (var stage in input.Document.Stages)
        {
            if (FromWords.Of(stage.From).StageName is { } name && name != name.ToLowerInvariant())
                yield return new(Rule, $"Stage name '{name}' should be lowercase", stage.From.Location.StartLine, stage.From.Location.EndLine);
        }
    }
}

/// <summary>FromAsCasing: <c>FROM x as y</c> mixes the casing of the two keywords.</summary>
public sealed class FromAsCasingCheck : IDockerfileCheck
{
    public CheckRule Rule => CheckRule.FromAsCasing;

    public IEnumerable<CheckWarning> Check(CheckInput input)
    {
        foreach (var stage in input.Document.Stages)
        {
            var words = FromWords.Of(stage.From);
            if (words.AsKeyword is not { } asWord) continue;
            var from = words.Keyword;
            var upper = from == from.ToUpperInvariant();
            var lower = from == from.ToLowerInvariant();
            if ((upper && asWord != asWord.ToUpperInvariant()) || (lower && asWord != asWord.ToLowerInvariant()))
                yield return new(Rule, $"'{asWord}' and '{from}' keywords' casing do not match", stage.From.Location.StartLine, stage.From.Location.EndLine);
        }
    }
}

/// <summary>DuplicateStageName: two stages with the same name.</summary>
public sealed class DuplicateStageNameCheck : IDockerfileCheck
{
    public CheckRule Rule => CheckRule.DuplicateStageName;

    public IEnumerable<CheckWarning> Check(CheckInput input)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var stage in input.Document.Stages)
        {
            if (stage.Name is { } name && !seen.Add(name))
                yield return new(Rule, $"Duplicate stage name \"{name}\", stage names should be unique", stage.From.Location.StartLine, stage.From.Location.EndLine);
        }
    }
}

/// <summary>ReservedStageName: a stage called <c>scratch</c> or <c>context</c>.</summary>
public sealed class ReservedStageNameCheck : IDockerfileCheck
{
    private static readonly string[] s_reserved = ["context", "scratch"];

    public CheckRule Rule => CheckRule.ReservedStageName;

    public IEnumerable<CheckWarning> Check(CheckInput input)
    {
        foreach (var stage in input.Document.Stages)
        {
            if (stage.Name is { } name && s_reserved.Contains(name))
                yield return new(Rule, $"Stage name should not use the same name as reserved stage \"{name}\"", stage.From.Location.StartLine, stage.From.Location.EndLine);
        }
    }
}
