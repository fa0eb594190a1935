namespace Img.Dockerfile;

/// <summary>
/// ARG/ENV state of one stage while its instructions are dispatched in order. <see cref="Apply"/> expands an
/// instruction's words the way Docker does (ENV beats ARG; RUN/CMD/ENTRYPOINT/SHELL/HEALTHCHECK/ONBUILD are not
/// expanded) and then records the ENV/ARG it declares.
/// </summary>
public sealed class StageScope
{
    private readonly BuildPlan _plan;
    private readonly ShellLex _lex;
    private readonly List<string> _env;
    private readonly List<string> _argOrder = [];
    private readonly Dictionary<string, string?> _args = new(StringComparer.Ordinal);
    private readonly HashSet<string> _usedArgs = new(StringComparer.Ordinal);

    internal StageScope(BuildPlan plan, PlannedStage stage, IEnumerable<string> baseImageEnv, IEnumerable<KeyValuePair<string, string?>> baseStageArgs)
    {
        _plan = plan;
        Stage = stage;
        _lex = new ShellLex(plan.Document.Syntax.EscapeToken);
        _env = baseImageEnv.ToList();
        foreach (var (k, v) in baseStageArgs)
        {
            if (!_args.ContainsKey(k))
                _argOrder.Add(k);
            _args[k] = v;
        }
    }

    /// <summary>The stage.</summary>
    public PlannedStage Stage { get; }

    /// <summary>The image-config environment (base image env plus ENV so far), <c>KEY=VALUE</c>.</summary>
    public IReadOnlyList<string> ConfigEnv => _env;

    /// <summary>ARGs declared so far that have a value, in declaration order.</summary>
    public IEnumerable<KeyValuePair<string, string>> Args =>
        _argOrder.Where(k => _args[k] is not null).Select(k => new KeyValuePair<string, string>(k, _args[k]!));

    /// <summary>Every ARG in scope, with or without a value, in declaration order (what a stage built FROM this one inherits).</summary>
    public IReadOnlyList<KeyValuePair<string, string?>> DeclaredArgs =>
        _argOrder.Select(k => new KeyValuePair<string, string?>(k, _args[k])).ToList();

    /// <summary>ARG names that were referenced by an expansion.</summary>
    public IReadOnlySet<string> UsedArgs => _usedArgs;

    /// <summary>
    /// The environment for a RUN: config env, then declared ARGs with values that ENV does not override, then proxy
    /// build-args (which never reach the image config).
    /// </summary>
    public List<string> RunEnvironment()
    {
        var result = new List<string>(_env);
        var keys = new HashSet<string>(_env.Select(ImageConfigRules.KeyOf), StringComparer.Ordinal);
        foreach (var (k, v) in Args)
        {
            if (keys.Add(k))
                result.Add(k + "=" + v);
        }
        foreach (var (k, v) in _plan.Options.BuildArgs.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (BuildPlan.ProxyArgs.Contains(k) && keys.Add(k))
                result.Add(k + "=" + v);
        }
        return result;
    }

    /// <summary>The lookup table used for expansion: ARGs overlaid by ENV.</summary>
    public Dictionary<string, string> ExpansionEnvironment()
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in Args)
            map[k] = v;
        foreach (var e in _env)
        {
            var i = e.IndexOf('=');
            map[i < 0 ? e : e[..i]] = i < 0 ? "" : e[(i + 1)..];
        }
        return map;
    }

    /// <summary>Expands one word with the current scope.</summary>
    public string ExpandWord(string word) => Track(_lex.ProcessWordWithMatches(word, ExpansionEnvironment())).Result;

    /// <summary>
    /// Expands a COPY/ADD heredoc body whose delimiter was not quoted. As BuildKit's raw expansion: quotes are
    /// ordinary characters (<c>hello="$NAME"</c> keeps its quotes) and the escape is always the backslash.
    /// </summary>
    public string ExpandHeredoc(string body) =>
        Track(new ShellLex('\\') { SkipProcessQuotes = true }.ProcessWordWithMatches(body, ExpansionEnvironment())).Result;

    /// <summary>Expands and splits a word with the current scope (EXPOSE).</summary>
    public IReadOnlyList<string> ExpandWords(string word) => Track(_lex.ProcessWordWithMatches(word, ExpansionEnvironment())).Words;

    /// <summary>
    /// Expands <paramref name="instruction"/> in the current scope and applies its ENV/ARG effects.
    /// Errors carry the instruction's line.
    /// </summary>
    public Instruction Apply(Instruction instruction)
    {
        try
        {
            var expanded = Expand(instruction);
            switch (expanded)
            {
                case EnvInstruction env:
                    foreach (var kv in env.Env)
                        SetEnv(kv.Key, kv.Value);
                    break;
                case ArgInstruction:
                    break; // recorded while expanding, since later ARGs on a line see earlier ones
            }
            return expanded;
        }
        catch (Exception e) when (e is ShellExpansionException or DockerfileException)
        {
            throw DockerfileException.At(e, instruction.Location.StartLine, instruction.Location.EndLine);
        }
    }

    /// <summary>Sets an ENV entry (replace in place or append).</summary>
    public void SetEnv(string key, string value)
    {
        var updated = ImageConfigRules.SetEnv(_env, key, value);
        _env.Clear();
        _env.AddRange(updated);
    }

    private Instruction Expand(Instruction instruction)
    {
        switch (instruction)
        {
            case EnvInstruction env:
            {
                var snapshot = ExpansionEnvironment();
                return env with { Env = env.Env.Select(kv => kv with { Key = Word(kv.Key, snapshot), Value = Word(kv.Value, snapshot) }).ToList() };
            }
            case LabelInstruction label:
            {
                var snapshot = ExpansionEnvironment();
                return label with { Labels = label.Labels.Select(kv => kv with { Key = Word(kv.Key, snapshot), Value = Word(kv.Value, snapshot) }).ToList() };
            }
            case ArgInstruction arg:
                return arg with { Args = arg.Args.Select(DeclareArg).ToList() };
            case ExposeInstruction expose:
            {
                var ports = expose.Ports.SelectMany(ExpandWords).ToList();
                foreach (var p in ports)
                    PortSpec.Parse(p);
                return expose with { Ports = ports };
            }
            case VolumeInstruction volume:
            {
                var volumes = volume.Volumes.Select(ExpandWord).ToList();
                if (volumes.Any(v => v.Trim().Length == 0))
                    throw new DockerfileException("VOLUME specified can not be an empty string");
                return volume with { Volumes = volumes };
            }
            case UserInstruction user:
                return user with { User = ExpandWord(user.User) };
            case WorkdirInstruction workdir:
                return workdir with { Path = ExpandWord(workdir.Path) };
            case StopSignalInstruction stop:
                return stop with { Signal = ExpandWord(stop.Signal) };
            case CopyInstruction copy:
                return copy with
                {
                    Files = ExpandFiles(copy.Files),
                    Chown = ExpandOptional(copy.Chown),
                    Chmod = ExpandChmod(copy.Chmod),
                    Excludes = copy.Excludes.Select(ExpandWord).ToList(),
                };
            case AddInstruction add:
                return add with
                {
                    Files = ExpandFiles(add.Files),
                    Chown = ExpandOptional(add.Chown),
                    Chmod = ExpandChmod(add.Chmod),
                    Checksum = ExpandOptional(add.Checksum),
                    Excludes = add.Excludes.Select(ExpandWord).ToList(),
                };
            case RunInstruction run:
                return run with { Mounts = run.MountSpecs.Select(s => RunMountParser.Parse(s, ExpandWord)).ToList() };
            default:
                return instruction; // RUN/CMD/ENTRYPOINT/SHELL/HEALTHCHECK/ONBUILD/MAINTAINER/FROM are not expanded here
        }
    }

    private ArgDefinition DeclareArg(ArgDefinition def)
    {
        string? value;
        if (_plan.Options.BuildArgs.TryGetValue(def.Key, out var provided))
            value = provided;
        else if (def.Value is not null)
            value = ExpandWord(def.Value);
        else if (_plan.MetaArgs.TryGetValue(def.Key, out var meta))
            value = meta; // `ARG name` inherits the global default (builtins included)
        else
            value = null;
        if (!_args.ContainsKey(def.Key))
            _argOrder.Add(def.Key);
        _args[def.Key] = value;
        return def with { Value = value };
    }

    private string Word(string word, Dictionary<string, string> env) => Track(_lex.ProcessWordWithMatches(word, env)).Result;

    private ShellWordResult Track(ShellWordResult r)
    {
        foreach (var name in r.Matched)
        {
            if (_args.ContainsKey(name))
                _usedArgs.Add(name);
        }
        return r;
    }

    private string? ExpandOptional(string? s) => s is null ? null : ExpandWord(s);

    private string? ExpandChmod(string? chmod)
    {
        if (chmod is null)
            return null;
        var expanded = ExpandWord(chmod);
        ChmodSpec.Parse(expanded);
        return expanded;
    }

    private SourcesAndDest ExpandFiles(SourcesAndDest files) => files with
    {
        SourcePaths = files.SourcePaths.Select(ExpandWord).ToList(),
        Dest = ExpandWord(files.Dest),
    };
}
