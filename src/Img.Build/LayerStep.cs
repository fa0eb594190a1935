using Img.Dockerfile;
using Img.Oci;

namespace Img.Build;

/// <summary>
/// A filesystem step as an instruction family assembles it, before anything runs: what the step is (its description
/// and everything its cache key depends on besides the parent filesystem), the change it makes to a mounted rootfs,
/// and its history text. The stage runs it through the solver's cache.
/// </summary>
/// <param name="Description">The step's cache-record description (<c>mount / from exec …</c>, <c>COPY a /b</c>).</param>
/// <param name="KeyParts">The step's definition for its cache key.</param>
/// <param name="Change">Changes the rootfs (its path) of a step that is not answered from the cache.</param>
/// <param name="History">The step's <c>created_by</c>.</param>
internal sealed record LayerStep(string Description, IReadOnlyList<string> KeyParts, Func<string, StepReporter, Task> Change, string History)
{
    /// <summary>Gives back what assembling took (ADD's downloads) once the step has run or failed.</summary>
    public Action Release { get; init; } = () => { };
}

/// <summary>What an instruction's step is assembled from: the build, the stage, its config and ARG/ENV scope so far, the instruction as written.</summary>
internal sealed record StepInputs(Solver Solver, PlannedStage Stage, ImageConfig Config, IReadOnlyList<string> Shell, StageScope Scope, Instruction Raw)
{
    /// <summary>The working directory relative paths resolve against.</summary>
    public string WorkingDir => Config.Config.WorkingDir is { Length: > 0 } w ? w : "/";

    /// <summary>The line number errors about the instruction name.</summary>
    public int Line => Raw.Location.StartLine;

    /// <summary>The step's name in debug lines: <c>[stage-0] RUN …</c>.</summary>
    public string Label => $"[{Stage.Stage.DisplayName}] {Raw.Location.Original.Trim()}";

    /// <summary>The cache key and snapshot of a stage or image named by <c>--from</c> (<c>COPY --from</c>, <c>RUN --mount from=</c>).</summary>
    public async Task<(string Key, string? Snapshot)> SourceAsync(string from, CancellationToken ct)
    {
        var other = Solver.Plan.FindStage(from);
        if (other is not null)
        {
            if (other.Index >= Stage.Index)
                throw new BuildFailedException($"cannot copy from stage \"{from}\", it needs to be defined before current stage \"{Stage.Stage.DisplayName}\"");
            var s = await Solver.StageAsync(other.Index, ct).ConfigureAwait(false);
            return (s.Key, s.Snapshot);
        }
        var image = await Solver.Images.GetAsync(from, ct).ConfigureAwait(false);
        return (image.Key, image.Snapshot);
    }

    /// <summary>An absolute, cleaned path: <paramref name="path"/> as it is when absolute, else joined onto the working directory.</summary>
    public string Absolute(string path) => StepPaths.Clean(path.StartsWith('/') ? path : WorkingDir + "/" + path);
}

/// <summary>Paths inside the rootfs as steps spell them.</summary>
internal static class StepPaths
{
    /// <summary><paramref name="path"/> cleaned and made absolute (<c>a/../b/</c> → <c>/b</c>).</summary>
    public static string Clean(string path) => "/" + SourcePattern.Clean(path);
}
