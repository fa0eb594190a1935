using Img.Build;

namespace Img.Cli.Progress;

/// <summary>
/// <c>-q</c> / <c>--progress quiet</c>: nothing is shown while the build runs; the plain display is kept so a failed
/// build can still show what its steps printed (docker's <c>-q</c> shows the error output too).
/// </summary>
public sealed class QuietProgress : IBuildProgress
{
    private readonly StringWriter _kept = new();
    private readonly PlainProgress _plain;

    public QuietProgress() => _plain = new PlainProgress(_kept);

    public void Report(StepEvent e) => _plain.Report(e);

    /// <summary>What the plain display would have shown (read once the build has ended).</summary>
    public string Transcript => _kept.ToString();
}
