using System.Diagnostics;

namespace Img.Registry;

/// <summary>
/// curl's low-speed rule for response bodies: fewer than <see cref="RegistryOptions.LowSpeedBytesPerSecond"/> on
/// average over a whole <see cref="RegistryOptions.LowSpeedWindow"/> means the transfer is failing. The idle timeout
/// catches a body that stops; this catches one that drips a byte now and then and would never end.
/// </summary>
public sealed class LowSpeedLimit(RegistryOptions options)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private TimeSpan _windowStart;
    private long _windowBytes;

    /// <summary>Counts <paramref name="bytes"/> just read; returns why the transfer is too slow, or null.</summary>
    public string? Add(int bytes)
    {
        _windowBytes += bytes;
        var now = _clock.Elapsed;
        var window = options.LowSpeedWindow;
        if (window <= TimeSpan.Zero || now - _windowStart < window) return null;
        double rate = _windowBytes / (now - _windowStart).TotalSeconds;
        if (rate < options.LowSpeedBytesPerSecond)
            return $"transfer slower than {options.LowSpeedBytesPerSecond} bytes/s for {window.TotalSeconds:0.#}s ({rate:0} bytes/s)";
        _windowStart = now;
        _windowBytes = 0;
        return null;
    }
}
