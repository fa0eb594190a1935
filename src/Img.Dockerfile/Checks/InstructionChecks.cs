using System.Text.RegularExpressions;

namespace Img.Dockerfile.Checks;

/// <summary>ConsistentInstructionCasing: every instruction keyword in the casing most of them use.</summary>
public sealed class ConsistentInstructionCasingCheck : IDockerfileCheck
{
    public CheckRule Rule => CheckRule.ConsistentInstructionCasing;

    public IEnumerable<CheckWarning> Check(CheckInput input)
    {
        var keywords = input.Nodes.Select(n => (Node: n, Word: Keyword(n))).Where(k => k.Word.Length > 0).ToList();
        int lower = 0, upper = 0;
        foreach (var (_, word) in keywords)
        {
            if (!SelfConsistent(word)) continue;
            if (word == word.ToLowerInvariant()) lower++;
            else upper++;
        }
        var majorityLower = lower > upper;
        var casing = majorityLower ? "lowercase" : "uppercase";
        foreach (var (node, word) in keywords)
        {
            var isLower = word == word.ToLowerInvariant();
            if (!SelfConsistent(word) || isLower != majorityLower)
                yield return new(Rule, $"Command '{word}' should match the case of the command majority ({casing})", node.StartLine, node.EndLine);
        }
    }

    private static bool SelfConsistent(string word) => word == word.ToUpperInvariant() || word == word.ToLowerInvariant();

    private static string Keyword(Node node)
    {
        var text = node.Original.TrimStart();
        var end = 0;
        while (end < text.Length && !char.IsWhiteSpace(text[end])) end++;
        return text[..end];
    }
}

/// <summary>JSONArgsRecommended: CMD and ENTRYPOINT in shell form run under <c>/bin/sh -c</c>, which does not pass signals on.</summary>
public sealed class JsonArgsRecommendedCheck : IDockerfileCheck
{
    public CheckRule Rule => CheckRule.JsonArgsRecommended;

    public IEnumerable<CheckWarning> Check(CheckInput input)
    {
        foreach (var ins in input.Document.Stages.SelectMany(s => s.Commands))
        {
            var shellForm = ins switch
            {
                CmdInstruction c => c.Command.PrependShell,
                EntrypointInstruction e => e.Command.PrependShell,
                _ => false,
            };
            if (shellForm)
                yield return new(Rule, $"JSON arguments recommended for {ins.Name} to prevent unintended behavior related to OS signals", ins.Location.StartLine, ins.Location.EndLine);
        }
    }
}

/// <summary>MaintainerDeprecated: MAINTAINER, where a label says the same.</summary>
public sealed class MaintainerDeprecatedCheck : IDockerfileCheck
{
    public CheckRule Rule => CheckRule.MaintainerDeprecated;

    public IEnumerable<CheckWarning> Check(CheckInput input) =>
        input.Document.Stages.SelectMany(s => s.Commands).OfType<MaintainerInstruction>()
            .Select(m => new CheckWarning(Rule, "Maintainer instruction is deprecated in favor of using label", m.Location.StartLine, m.Location.EndLine));
}

/// <summary>LegacyKeyValueFormat: <c>ENV key value</c> / <c>LABEL key value</c> without <c>=</c>.</summary>
public sealed class LegacyKeyValueFormatCheck : IDockerfileCheck
{
    public CheckRule Rule => CheckRule.LegacyKeyValueFormat;

    public IEnumerable<CheckWarning> Check(CheckInput input)
    {
        foreach (var ins in input.Document.Stages.SelectMany(s => s.Commands))
        {
            var legacy = ins switch
            {
                EnvInstruction e => e.Env.Any(kv => kv.NoDelim),
                LabelInstruction l => l.Labels.Any(kv => kv.NoDelim),
                _ => false,
            };
            if (legacy)
                yield return new(Rule, $"\"{ins.Name} key=value\" should be used instead of legacy \"{ins.Name} key value\" format", ins.Location.StartLine, ins.Location.EndLine);
        }
    }
}

/// <summary>SecretsUsedInArgOrEnv: an ARG or ENV whose name says it holds a secret (it would stay in the image's history or config).</summary>
public sealed partial class SecretsUsedInArgOrEnvCheck : IDockerfileCheck
{
    public CheckRule Rule => CheckRule.SecretsUsedInArgOrEnv;

    [GeneratedRegex("(?i)(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)")]
    private static partial Regex SecretName();

    [GeneratedRegex("(?i)(?:_|^)(?:public)(?:_|$)")]
    private static partial Regex AllowedName();

    /// <summary>BuildKit's test: a secret word between underscores, unless the name says it is public.</summary>
    public static bool IsSecretName(string key) => !AllowedName().IsMatch(key) && SecretName().IsMatch(key);

    public IEnumerable<CheckWarning> Check(CheckInput input)
    {
        var all = input.Document.MetaArgs.Cast<Instruction>().Concat(input.Document.Stages.SelectMany(s => s.Commands));
        foreach (var ins in all)
        {
            var keys = ins switch
            {
                ArgInstruction a => a.Args.Select(d => d.Key),
                EnvInstruction e => e.Env.Select(kv => kv.Key),
                _ => [],
            };
            foreach (var key in keys.Where(IsSecretName))
                yield return new(Rule, $"Do not use ARG or ENV instructions for sensitive data ({ins.Name} \"{key}\")", ins.Location.StartLine, ins.Location.EndLine);
        }
    }
}

/// <summary>NoEmptyContinuation: a blank line inside a continued instruction (the parser notes it).</summary>
public sealed class NoEmptyContinuationCheck : IDockerfileCheck
{
    public CheckRule Rule => CheckRule.NoEmptyContinuation;

    public IEnumerable<CheckWarning> Check(CheckInput input) =>
        input.Document.Syntax.Warnings.Where(w => w.Short.StartsWith("Empty continuation line", StringComparison.Ordinal))
            .Select(w => new CheckWarning(Rule, "Empty continuation line", w.Line, w.Line));
}

/// <summary>MultipleInstructionsDisallowed: a second CMD, ENTRYPOINT or HEALTHCHECK in a stage makes the earlier ones dead.</summary>
public sealed class MultipleInstructionsDisallowedCheck : IDockerfileCheck
{
    public CheckRule Rule => CheckRule.MultipleInstructionsDisallowed;

    public IEnumerable<CheckWarning> Check(CheckInput input)
    {
        foreach (var stage in input.Document.Stages)
        {
            foreach (var group in stage.Commands.Where(c => c is CmdInstruction or EntrypointInstruction or HealthcheckInstruction).GroupBy(c => c.Name))
            {
                foreach (var ins in group.SkipLast(1))
                    yield return new(Rule, $"Multiple {ins.Name} instructions should not be used in the same stage because only the last one will be used",
                        ins.Location.StartLine, ins.Location.EndLine);
            }
        }
    }
}

/// <summary>RedundantTargetPlatform: <c>FROM --platform=$TARGETPLATFORM</c> says what FROM does anyway.</summary>
public sealed class RedundantTargetPlatformCheck : IDockerfileCheck
{
    public CheckRule Rule => CheckRule.RedundantTargetPlatform;

    public IEnumerable<CheckWarning> Check(CheckInput input) =>
        input.Document.Stages.Where(s => s.From.Platform is "$TARGETPLATFORM" or "${TARGETPLATFORM}")
            .Select(s => new CheckWarning(Rule, $"Setting platform to predefined {s.From.Platform} in FROM is redundant as this is the default behavior",
                s.From.Location.StartLine, s.From.Location.EndLine));
}
