namespace Img.Dockerfile.Checks;

/// <summary>UndefinedArgInFrom: a FROM (or its <c>--platform</c>) uses a variable no global ARG declares.</summary>
public sealed class UndefinedArgInFromCheck : IDockerfileCheck
{
    public CheckRule Rule => CheckRule.UndefinedArgInFrom;

    public IEnumerable<CheckWarning> Check(CheckInput input)
    {
        var declared = input.Document.MetaArgs.SelectMany(a => a.Args).Select(d => d.Key).ToHashSet(StringComparer.Ordinal);
        var env = declared.Concat(CheckInput.BuiltinArgs).Distinct().ToDictionary(k => k, _ => "x", StringComparer.Ordinal);
        var lex = new ShellLex(input.Document.Syntax.EscapeToken);
        foreach (var stage in input.Document.Stages)
        {
            var words = new[] { stage.From.BaseName, stage.From.Platform }.OfType<string>();
            var missing = new List<string>();
            foreach (var word in words)
            {
                ShellWordResult r;
                try { r = lex.ProcessWordWithMatches(word, env); }
                catch (ShellExpansionException) { continue; }
                missing.AddRange(r.Unmatched.Where(u => !missing.Contains(u)));
            }
            foreach (var name in missing)
            {
                var hint = Suggest.Closest(name, declared, caseSensitive: true);
                var detail = $"FROM argument '{name}' is not declared" + (hint is null ? "" : $" (did you mean {hint}?)");
                yield return new(Rule, detail, stage.From.Location.StartLine, stage.From.Location.EndLine);
            }
        }
    }
}

/// <summary>
/// WorkdirRelativePath: a relative WORKDIR before any absolute one in the stage (or the stages it builds on) lands
/// wherever the base image's working directory happens to be.
/// </summary>
public sealed class WorkdirRelativePathCheck : IDockerfileCheck
{
    public CheckRule Rule => CheckRule.WorkdirRelativePath;

    public IEnumerable<CheckWarning> Check(CheckInput input)
    {
        var absolute = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var stage in input.Document.Stages)
        {
            var set = absolute.TryGetValue(stage.From.BaseName.ToLowerInvariant(), out var inherited) && inherited;
            foreach (var w in stage.Commands.OfType<WorkdirInstruction>())
            {
                if (w.Path.StartsWith('/') || w.Path.StartsWith('$')) set = true;
                else if (!set) yield return new(Rule, $"Relative workdir \"{w.Path}\" can have unexpected results if the base image changes", w.Location.StartLine, w.Location.EndLine);
            }
            absolute[stage.DisplayName] = set;
            absolute[stage.Index.ToString(System.Globalization.CultureInfo.InvariantCulture)] = set;
        }
    }
}

/// <summary>
/// UndefinedVar: an instruction the frontend expands (not RUN, whose shell does) uses a variable that no ARG, ENV or
/// base image defines. A stage whose base image is not known is not judged.
/// </summary>
public sealed class UndefinedVarCheck : IDockerfileCheck
{
    public CheckRule Rule => CheckRule.UndefinedVar;

    public IEnumerable<CheckWarning> Check(CheckInput input)
    {
        var lex = new ShellLex(input.Document.Syntax.EscapeToken);
        var stageEnv = new Dictionary<string, HashSet<string>?>(StringComparer.Ordinal);
        var warnings = new List<CheckWarning>();
        foreach (var stage in input.Document.Stages)
        {
            var baseName = stage.From.BaseName;
            HashSet<string>? known = stageEnv.TryGetValue(baseName.ToLowerInvariant(), out var parent)
                ? parent is null ? null : [.. parent]
                : baseName.Equals("scratch", StringComparison.OrdinalIgnoreCase) ? ["PATH"]
                : baseName.Contains('$', StringComparison.Ordinal) ? null
                : input.BaseImageEnv(baseName)?.Select(ImageConfigRules.KeyOf).ToHashSet(StringComparer.Ordinal);
            var envOnly = known is null ? null : new HashSet<string>(known, StringComparer.Ordinal);
            if (known is not null)
            {
                foreach (var ins in stage.Commands)
                {
                    foreach (var name in Undefined(lex, Words(ins), known).Distinct())
                    {
                        var hint = Suggest.Closest(name, known, caseSensitive: true);
                        warnings.Add(new(Rule, $"Usage of undefined variable '${name}'" + (hint is null ? "" : $" (did you mean ${hint}?)"), ins.Location.StartLine, ins.Location.EndLine));
                    }
                    switch (ins)
                    {
                        case ArgInstruction a:
                            foreach (var d in a.Args) known.Add(d.Key);
                            break;
                        case EnvInstruction e:
                            foreach (var kv in e.Env)
                            {
                                known.Add(kv.Key);
                                envOnly!.Add(kv.Key);
                            }
                            break;
                    }
                }
            }
            // A stage built on this one sees its ENV, not its ARGs.
            stageEnv[stage.DisplayName] = envOnly;
            stageEnv[stage.Index.ToString(System.Globalization.CultureInfo.InvariantCulture)] = envOnly;
        }
        return warnings;
    }

    private static IEnumerable<string> Undefined(ShellLex lex, IEnumerable<string> words, HashSet<string> known)
    {
        var env = known.ToDictionary(k => k, _ => "x", StringComparer.Ordinal);
        foreach (var word in words)
        {
            ShellWordResult r;
            try { r = lex.ProcessWordWithMatches(word, env); }
            catch (ShellExpansionException) { continue; }
            foreach (var u in r.Unmatched) yield return u;
        }
    }

    /// <summary>The words the frontend expands in <paramref name="ins"/>.</summary>
    private static IEnumerable<string> Words(Instruction ins) => ins switch
    {
        EnvInstruction e => e.Env.Select(kv => kv.Value),
        LabelInstruction l => l.Labels.SelectMany(kv => new[] { kv.Key, kv.Value }),
        ArgInstruction a => a.Args.Select(d => d.Value).OfType<string>(),
        ExposeInstruction x => x.Ports,
        VolumeInstruction v => v.Volumes,
        UserInstruction u => [u.User],
        WorkdirInstruction w => [w.Path],
        StopSignalInstruction s => [s.Signal],
        CopyInstruction c => [.. c.Files.SourcePaths, c.Files.Dest, .. new[] { c.Chown, c.Chmod }.OfType<string>()],
        AddInstruction a => [.. a.Files.SourcePaths, a.Files.Dest, .. new[] { a.Chown, a.Chmod }.OfType<string>()],
        _ => [],
    };
}
