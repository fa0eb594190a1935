using System.Collections.Concurrent;

namespace Img.Build.CacheSharing;

/// <summary>A filesystem step this build resolved (ran, found in the local cache or restored from an imported one).</summary>
/// <param name="Key">The step's cache key.</param>
/// <param name="Parent">The key of the filesystem it ran on.</param>
/// <param name="Description">What it did.</param>
/// <param name="Outcome">Its layer.</param>
/// <param name="Created">When it ran.</param>
internal sealed record SolvedStep(string Key, string Parent, string Description, StepOutcome Outcome, DateTimeOffset Created);

/// <summary>Every step the solver resolved, for cache export: the final chain (mode=min) or all of them (mode=max).</summary>
internal sealed class StepJournal
{
    private readonly ConcurrentDictionary<string, SolvedStep> _steps = new(StringComparer.Ordinal);

    public void Add(SolvedStep step) => _steps[step.Key] = step;

    /// <summary>The steps that made the filesystem <paramref name="key"/>, first step first.</summary>
    public List<SolvedStep> Chain(string key)
    {
        var chain = new List<SolvedStep>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var k = key; _steps.TryGetValue(k, out var s) && seen.Add(k); k = s.Parent) chain.Add(s);
        chain.Reverse();
        return chain;
    }

    /// <summary>Every resolved step, each after its parent when the parent is one of them.</summary>
    public List<SolvedStep> All()
    {
        var result = new List<SolvedStep>();
        var done = new HashSet<string>(StringComparer.Ordinal);
        foreach (var key in _steps.Keys.Order(StringComparer.Ordinal))
            foreach (var s in Chain(key))
                if (done.Add(s.Key)) result.Add(s);
        return result;
    }
}
