using System.Diagnostics;
using Img.Runtime.Namespaces;

namespace Img.Runtime.Tests;

public class ProbeProcessTests
{
    // A probe runs while a build's other children run (runc of another platform, runc --version): ending the helpers
    // the probe left must not end those.
    [Fact]
    public void AProbeEndsTheHelpersItLeftAndNoOtherChild()
    {
        using var bystander = Process.Start(new ProcessStartInfo("sleep", "60") { UseShellExecute = false })!;
        var marker = "probe-orphan-" + Guid.NewGuid().ToString("N");
        try
        {
            // The probe's shell leaves a helper that outlives it (as a failed unshare's id-mapping helpers do).
            var r = ProbeProcess.Run("/bin/sh", ["-c", $"exec -a {marker} sleep 60 & exit 3"], TimeSpan.FromSeconds(10));
            Assert.Equal(3, r.ExitCode);
            Assert.False(bystander.HasExited, "a child the probe did not start was killed");
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while (Helpers(marker).Any() && DateTime.UtcNow < deadline) Thread.Sleep(20);
            Assert.Empty(Helpers(marker));
        }
        finally
        {
            bystander.Kill();
            foreach (var pid in Helpers(marker)) Process.GetProcessById(pid).Kill();
        }
    }

    private static IEnumerable<int> Helpers(string marker) =>
        Directory.EnumerateDirectories("/proc").Select(Path.GetFileName).Where(n => int.TryParse(n, out _)).Select(int.Parse!)
            .Where(pid => ReadCmdline(pid).StartsWith(marker, StringComparison.Ordinal)).ToList();

    private static string ReadCmdline(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/cmdline"); }
        catch (IOException) { return ""; }
        catch (UnauthorizedAccessException) { return ""; }
    }
}
