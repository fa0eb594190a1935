namespace Img.Cli.Framework;

/// <summary>The flags and positional arguments given to one command.</summary>
public sealed class ParsedArgs
{
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);

    public List<string> Positionals { get; } = [];

    internal void Add(string name, string value)
    {
        if (!_values.TryGetValue(name, out var list)) _values[name] = list = [];
        list.Add(value);
    }

    public bool Has(string name) => _values.ContainsKey(name);

    public bool Bool(string name) =>
        _values.TryGetValue(name, out var v) && v.Count > 0 && v[^1] is "true" or "1" or "t" or "T" or "TRUE" or "True";

    public string String(string name, string fallback = "") =>
        _values.TryGetValue(name, out var v) && v.Count > 0 ? v[^1] : fallback;

    /// <summary>Every value of a repeatable flag; like docker's list flags, commas do not split.</summary>
    public IReadOnlyList<string> List(string name) =>
        _values.TryGetValue(name, out var v) ? v : [];
}
