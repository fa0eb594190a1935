namespace Img.Dockerfile;

/// <summary>
/// The <c>--name[=value]</c> flags of one instruction, validated against the flags that instruction declares
/// (BuildKit's BFlags). Unknown, duplicate and malformed flags are errors.
/// </summary>
public sealed class BuilderFlags
{
    private enum Kind { Bool, String, Strings }

    private sealed class Flag(Kind kind)
    {
        public Kind Kind { get; } = kind;
        public bool Used { get; set; }
        public string? Value { get; set; }
        public List<string> Values { get; } = [];
    }

    private readonly IReadOnlyList<string> _args;
    private readonly Dictionary<string, Flag> _flags = [];

    /// <summary>Wraps the raw flag words of a node.</summary>
    public BuilderFlags(IReadOnlyList<string> args) => _args = args;

    /// <summary>Declares a boolean flag (<c>--link</c>, <c>--link=false</c>).</summary>
    public void AddBool(string name) => _flags[name] = new Flag(Kind.Bool);

    /// <summary>Declares a single-valued flag.</summary>
    public void AddString(string name) => _flags[name] = new Flag(Kind.String);

    /// <summary>Declares a repeatable flag.</summary>
    public void AddStrings(string name) => _flags[name] = new Flag(Kind.Strings);

    /// <summary>Validates the words against the declared flags.</summary>
    public void Parse()
    {
        foreach (var word in _args)
        {
            if (!word.StartsWith("--", StringComparison.Ordinal))
                throw new DockerfileException($"arg should start with -- : {word}");
            if (word == "--")
                return;
            var arg = word[2..];
            string? value = null;
            var eq = arg.IndexOf('=');
            if (eq >= 0)
            {
                value = arg[(eq + 1)..];
                arg = arg[..eq];
            }
            if (!_flags.TryGetValue(arg, out var flag))
                throw new DockerfileException(Suggest.Wrap($"unknown flag: --{arg}", arg, _flags.Keys, true));
            if (flag.Used && flag.Kind != Kind.Strings)
                throw new DockerfileException($"duplicate flag specified: {arg}");
            flag.Used = true;
            switch (flag.Kind)
            {
                case Kind.Bool:
                    if (value is "")
                        throw new DockerfileException($"missing a value on flag: {arg}");
                    var lower = value?.ToLowerInvariant();
                    flag.Value = lower switch
                    {
                        null => "true",
                        "true" or "false" => lower,
                        _ => throw new DockerfileException($"expecting boolean value for flag {arg}, not: {value}"),
                    };
                    break;
                case Kind.String:
                    flag.Value = value ?? throw new DockerfileException($"missing a value on flag: {arg}");
                    break;
                case Kind.Strings:
                    flag.Values.Add(value ?? throw new DockerfileException($"missing a value on flag: {arg}"));
                    break;
            }
        }
    }

    /// <summary>Whether the flag appeared.</summary>
    public bool IsUsed(string name) => _flags.TryGetValue(name, out var f) && f.Used;

    /// <summary>The flag's value, or "" when absent.</summary>
    public string String(string name) => _flags[name].Value ?? "";

    /// <summary>All values of a repeatable flag.</summary>
    public IReadOnlyList<string> Strings(string name) => _flags[name].Values;

    /// <summary>A boolean flag's value (false when absent).</summary>
    public bool Bool(string name) => _flags[name].Value == "true";

    /// <summary>A boolean flag's value, or null when absent (tri-state flags such as <c>--unpack</c>).</summary>
    public bool? OptionalBool(string name) => _flags[name].Used ? _flags[name].Value == "true" : null;
}
