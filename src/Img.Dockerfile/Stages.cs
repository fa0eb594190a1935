namespace Img.Dockerfile;

/// <summary>One <c>FROM</c> block of a Dockerfile.</summary>
/// <param name="Index">0-based position among the stages.</param>
/// <param name="From">The FROM instruction (base name unexpanded).</param>
/// <param name="Commands">The instructions after FROM, in order.</param>
public sealed record Stage(int Index, FromInstruction From, IReadOnlyList<Instruction> Commands)
{
    /// <summary>Lower-cased <c>AS</c> name, or null.</summary>
    public string? Name => From.StageName;

    /// <summary>The name used in progress output and errors: the AS name or <c>stage-N</c>.</summary>
    public string DisplayName => Name ?? $"stage-{Index}";

    /// <summary>ONBUILD trigger expressions declared in this stage, to be stored in its image config.</summary>
    public IReadOnlyList<string> OnbuildTriggers => Commands.OfType<OnbuildInstruction>().Select(o => o.Expression).ToList();
}

/// <summary>A parsed Dockerfile: meta ARGs before the first FROM and the stages.</summary>
public sealed record DockerfileDocument(ParseResult Syntax, IReadOnlyList<ArgInstruction> MetaArgs, IReadOnlyList<Stage> Stages)
{
    /// <summary>Parses Dockerfile text into typed stages. Errors carry line numbers.</summary>
    public static DockerfileDocument Parse(string text)
    {
        var syntax = Parser.Parse(text);
        var metaArgs = new List<ArgInstruction>();
        var stages = new List<(FromInstruction From, List<Instruction> Commands)>();
        foreach (var node in syntax.Ast.Children)
        {
            var instruction = Instructions.Parse(node);
            switch (instruction)
            {
                case ArgInstruction arg when stages.Count == 0:
                    metaArgs.Add(arg);
                    break;
                case FromInstruction from:
                    stages.Add((from, []));
                    break;
                default:
                    if (stages.Count == 0)
                        throw new DockerfileException("no build stage in current context", node.StartLine, node.EndLine);
                    stages[^1].Commands.Add(instruction);
                    break;
            }
        }
        return new DockerfileDocument(syntax, metaArgs, stages.Select((s, i) => new Stage(i, s.From, s.Commands)).ToList());
    }
}

/// <summary>Parses ONBUILD triggers taken from a base image's config into instructions to run first in the consuming stage.</summary>
public static class OnbuildTriggers
{
    /// <summary>Parses each trigger expression (e.g. <c>RUN echo hi</c>) into an instruction.</summary>
    public static List<Instruction> Parse(IEnumerable<string> triggers, char escapeToken = '\\')
    {
        var result = new List<Instruction>();
        foreach (var trigger in triggers)
        {
            var text = escapeToken == '\\' ? trigger : $"# escape={escapeToken}\n{trigger}";
            var syntax = Parser.Parse(text);
            foreach (var node in syntax.Ast.Children)
            {
                var name = node.Value.ToUpperInvariant();
                if (name is "ONBUILD")
                    throw new DockerfileException("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
                if (name is "FROM" or "MAINTAINER")
                    throw new DockerfileException($"{name} isn't allowed as an ONBUILD trigger");
                result.Add(Instructions.Parse(node));
            }
        }
        return result;
    }
}
