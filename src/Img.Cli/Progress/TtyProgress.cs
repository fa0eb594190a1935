using System.Diagnostics;
using System.Globalization;
using System.Text;
using Img.Build;

namespace Img.Cli.Progress;

/// <summary>
/// BuildKit's terminal display: a header with the elapsed time and step count, one line per step with its time or
/// CACHED, and the last few output lines of running steps, redrawn in place ten times a second.
/// </summary>
public sealed class TtyProgress : IBuildProgress, IAsyncDisposable
{
    private const int LogLines = 6;
    private readonly TextWriter _err;
    private readonly object _gate = new();
    private readonly List<Row> _rows = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _drawn;

    private sealed class Row(int step, string name)
    {
        public int Step { get; } = step;
        public string Name { get; } = name;
        public Stopwatch Clock { get; } = Stopwatch.StartNew();
        public StepState State { get; set; } = StepState.Started;
        public string? Error { get; set; }
        public Queue<string> Logs { get; } = new();
    }

    public TtyProgress(TextWriter err)
    {
        _err = err;
        _loop = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
            try { while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false)) Draw(false); }
            catch (OperationCanceledException) { }
        });
    }

    public void Report(StepEvent e)
    {
        lock (_gate)
        {
            if (e.State == StepState.Started) { _rows.Add(new Row(e.Step, e.Name)); return; }
            var row = _rows.FirstOrDefault(r => r.Step == e.Step);
            if (row is null) return;
            if (e.State == StepState.Log)
            {
                row.Logs.Enqueue(e.Text ?? "");
                while (row.Logs.Count > LogLines) row.Logs.Dequeue();
                return;
            }
            row.State = e.State;
            row.Error = e.Text;
            row.Clock.Stop();
        }
    }

    /// <summary>Stops redrawing and leaves the final picture (with FINISHED unless a step failed).</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        Draw(true);
        _stop.Dispose();
    }

    private void Draw(bool final)
    {
        lock (_gate)
        {
            var width = 0;
            try { width = Console.WindowWidth; } catch (IOException) { }
            if (width <= 0) width = 100;
            var sb = new StringBuilder();
            if (_drawn > 0) sb.Append(CultureInfo.InvariantCulture, $"\x1b[{_drawn}A\x1b[J");
            var done = _rows.Count(r => r.State is StepState.Done or StepState.Cached);
            var failed = _rows.Any(r => r.State == StepState.Error);
            var lines = new List<string>
            {
                string.Create(CultureInfo.InvariantCulture, $"[+] Building {_clock.Elapsed.TotalSeconds:0.0}s ({done}/{_rows.Count}){(final ? (failed ? "" : " FINISHED") : "")}"),
            };
            foreach (var r in _rows)
            {
                var time = string.Create(CultureInfo.InvariantCulture, $"{r.Clock.Elapsed.TotalSeconds:0.0}s");
                var label = r.State switch
                {
                    StepState.Cached => " => CACHED " + r.Name,
                    StepState.Error => " => ERROR " + r.Name,
                    _ => " => " + r.Name,
                };
                lines.Add(Fit(label, r.State == StepState.Cached ? "0.0s" : time, width));
                if (r.State == StepState.Started || r.State == StepState.Error)
                    foreach (var l in r.Logs) lines.Add(Fit(" => => # " + l, "", width));
                if (r.State == StepState.Error && r.Error is not null) lines.Add(Fit("------ " + r.Error, "", width));
            }
            foreach (var l in lines) sb.Append(l).Append('\n');
            _drawn = lines.Count;
            _err.Write(sb.ToString());
            _err.Flush();
        }
    }

    private static string Fit(string text, string right, int width)
    {
        var room = width - right.Length - 1;
        if (room < 10) room = 10;
        if (text.Length > room) text = text[..(room - 1)] + "…";
        return right.Length == 0 ? text : text.PadRight(room) + " " + right;
    }
}
