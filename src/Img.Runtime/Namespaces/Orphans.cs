using System.Globalization;
using Img.Runtime.Interop;

namespace Img.Runtime.Namespaces;

/// <summary>
/// The children this process has inherited as a subreaper (PR_SET_CHILD_SUBREAPER): helpers of a program that
/// failed and left them waiting. Only called while img has no child of its own running.
/// </summary>
internal static class Orphans
{
    /// <summary>Sends SIGKILL to every current child of this process.</summary>
    public static void KillAll()
    {
        foreach (var pid in Children()) _ = Libc.Kill(pid, Libc.SIGKILL);
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
