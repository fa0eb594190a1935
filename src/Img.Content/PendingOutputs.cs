using System.Globalization;

namespace Img.Content;

/// <summary>
/// Notes, in <c>&lt;state&gt;/pending-outputs/</c>, the temp files of outputs being written outside the state
/// directory (<c>img save -o</c>, <c>-o type=tar</c>): one small file per output, named by the writer's pid,
/// holding the temp file's path. A process killed mid-write leaves its note, and the next img command of any
/// kind removes the temp file it names (a 200 MB <c>.out.tar.tmp-PID</c> no longer waits for the next save into
/// the same directory).
/// </summary>
public static class PendingOutputs
{
    private const string DirectoryName = "pending-outputs";

    /// <summary>Notes <paramref name="tempPath"/> as this process's; returns the note to forget once the output is done.</summary>
    public static string? Note(string stateDir, string tempPath)
    {
        try
        {
            var dir = Path.Combine(stateDir, DirectoryName);
            Directory.CreateDirectory(dir);
            var note = Path.Combine(dir, $"{Environment.ProcessId}-{Guid.NewGuid():N}");
            File.WriteAllText(note, tempPath);
            return note;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Without a note the temp file is still removed by the next writer of the same destination.
            return null;
        }
    }

    public static void Forget(string? note)
    {
        if (note is null) return;
        try { File.Delete(note); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>Removes the temp files noted by processes that no longer run, and their notes.</summary>
    public static void Reclaim(string stateDir)
    {
        var dir = Path.Combine(stateDir, DirectoryName);
        if (!Directory.Exists(dir)) return;
        foreach (var note in Directory.EnumerateFiles(dir))
        {
            var name = Path.GetFileName(note);
            int dash = name.IndexOf('-', StringComparison.Ordinal);
            if (dash <= 0 || !int.TryParse(name.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) continue;
            if (pid == Environment.ProcessId || Directory.Exists($"/proc/{pid}")) continue;
            try
            {
                var temp = File.ReadAllText(note).Trim();
                // Only ever a temp file of that very process: never a path the note could have been pointed at otherwise.
                if (Path.GetFileName(temp).EndsWith($".tmp-{pid}", StringComparison.Ordinal) && Path.GetFileName(temp).StartsWith('.'))
                    File.Delete(temp);
                File.Delete(note);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
    }
}
