using System.Globalization;
using Img.Runtime.Interop;

namespace Img.Runtime.Namespaces;

/// <summary>
/// The children this process has inherited as a subreaper (PR_SET_CHILD_SUBREAPER): helpers of a program that
/// failed and left them waiting.
/// </summary>
internal static class Orphans
{
    /// <summary>
    /// Sends SIGKILL to every current child of this process. Only while img has no child of its own running (the
    /// re-exec into the namespace, before anything else has started).
    /// </summary>
    public static void KillAll()
    {
        foreach (var pid in Children()) _ = Libc.Kill(pid, Libc.SIGKILL);
    }

    /// <summary>
    /// Sends SIGKILL to the children of this process in process group <paramref name="group"/>: the helpers a probe
    /// started in its own session left behind. Safe while other children run (a build's runtime, another probe).
    /// </summary>
    public static void KillGroup(int group)
    {
        foreach (var pid in Children())
            if (ProcessGroup(pid) == group) _ = Libc.Kill(pid, Libc.SIGKILL);
    }

    // Field 5 of /proc/PID/stat, after the parenthesised command name (which may hold spaces).
    private static int ProcessGroup(int pid)
    {
        string stat;
        try { stat = File.ReadAllText($"/proc/{pid}/stat"); }
        catch (IOException) { return -1; }
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return fields.Length > 2 && int.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var g) ? g : -1;
    }

    private static IEnumerable<int> Children()
    {
        string[] tasks;
        try { tasks = Directory.GetDirectories("/proc/self/task"); }
        catch (IOException) { yield break; }
        foreach (var task in tasks)
        {
            string text;
            try { text = File.ReadAllText(Path.Combine(task, "children")); }
            catch (IOException) { continue; }
            foreach (var field in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                if (int.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) yield return pid;
        }
    }
}
