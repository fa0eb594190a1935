using System.Globalization;
using Img.Build;

namespace Img.Cli.Progress;

/// <summary>BuildKit's plain progress (<c>--no-console</c> or stderr not a terminal): <c>#N NAME</c>, <c>#N line</c>, <c>#N DONE 0.3s</c>.</summary>
public sealed class PlainProgress(TextWriter err) : IBuildProgress
{
    private readonly object _gate = new();
    private int _last;
    private bool _any;

    public void Report(StepEvent e)
    {
        lock (_gate)
        {
            if (e.State == StepState.Started)
            {
                if (_any) err.Write('\n');
                _any = true;
                err.Write($"#{e.Step} {e.Name}\n");
                _last = e.Step;
                err.Flush();
                return;
            }
            // Interleaved output of parallel steps names its step again, as BuildKit does.
            if (_last != e.Step)
            {
                err.Write($"\n#{e.Step} {e.Name}\n");
                _last = e.Step;
            }
            switch (e.State)
            {
                case StepState.Log: err.Write($"#{e.Step} {e.Text}\n"); break;
                case StepState.Done: err.Write(string.Create(CultureInfo.InvariantCulture, $"#{e.Step} DONE {e.Elapsed.TotalSeconds:0.0}s\n")); break;
                case StepState.Cached: err.Write($"#{e.Step} CACHED\n"); break;
                case StepState.Error: err.Write($"#{e.Step} ERROR: {e.Text}\n"); break;
            }
            err.Flush();
        }
    }
}
