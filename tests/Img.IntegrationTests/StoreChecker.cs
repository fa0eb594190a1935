using System.Security.Cryptography;
using System.Text.Json;
using Img.TestSupport;

namespace Img.IntegrationTests;

/// <summary>
/// Verifies that a state directory is consistent after whatever happened to it (a kill, a full disk,
/// concurrent writers): blobs match their names, every image record reaches all of its content,
/// <c>img ls</c> works, nothing is left in the ingest area, no mount under the state dir survives on
/// the host and no process that belonged to the dead command is still running.
/// Call it only while no img process uses the state directory.
/// </summary>
public static class StoreChecker
{
    /// <summary>Everything found wrong, one line each; empty when the store is consistent.</summary>
    public static async Task<List<string>> FindProblemsAsync(ImgCli img, IEnumerable<TrackedProcess>? deadProcesses = null)
    {
        var problems = new List<string>();
        string state = img.StateDir;

        foreach (var p in deadProcesses ?? [])
            if (p.IsAlive()) problems.Add($"process {p} of the killed command is still running");
            else if (!p.IsGone()) problems.Add($"process {p} of the killed command is a zombie nobody reaps");
        var pgrep = await ProcessRunner.RunAsync("pgrep", ["-a", "-u", TestUser.Name, "-f", state]);
        if (pgrep.ExitCode == 0) problems.Add("processes of the test user still use the state dir: " + pgrep.Stdout.Trim());

        foreach (var line in await File.ReadAllLinesAsync("/proc/self/mountinfo"))
        {
            var fields = line.Split(' ');
            if (fields.Length > 4 && Unescape(fields[4]).StartsWith(state, StringComparison.Ordinal))
                problems.Add("mount left under the state dir: " + line);
        }

        // The next img run: it must work, and it removes temp files of writers that no longer run.
        var ls = await img.TryAsync("ls");
        if (ls.ExitCode != 0)
        {
            problems.Add($"img ls failed ({ls.ExitCode}): {ls.Stderr.Trim()}");
            return problems;
        }
        var ingest = Path.Combine(state, "content", "ingest");
        if (Directory.Exists(ingest))
            foreach (var f in Directory.EnumerateFileSystemEntries(ingest))
                problems.Add($"temp file left in content/ingest after the next img run: {Path.GetFileName(f)} ({new FileInfo(f).Length} bytes)");

        var blobs = Path.Combine(state, "content", "blobs", "sha256");
        if (Directory.Exists(blobs))
            foreach (var file in Directory.EnumerateFileSystemEntries(blobs))
            {
                var name = Path.GetFileName(file);
                string actual;
                await using (var s = File.OpenRead(file))
                    actual = Convert.ToHexStringLower(await SHA256.HashDataAsync(s));
                if (actual != name) problems.Add($"blob {name} holds content with sha256 {actual}");
            }

        foreach (var (name, digest) in ParseLs(ls.Stdout))
            Reach(blobs, digest, $"image {name}", problems, depth: 0);
        return problems;
    }

    /// <summary>Fails the test with every problem <see cref="FindProblemsAsync"/> finds.</summary>
    public static async Task AssertConsistentAsync(ImgCli img, IEnumerable<TrackedProcess>? deadProcesses = null, string? when = null)
    {
        var problems = await FindProblemsAsync(img, deadProcesses);
        Assert.True(problems.Count == 0, $"state dir {img.StateDir} is inconsistent{(when is null ? "" : " " + when)}:\n  " + string.Join("\n  ", problems));
    }

    /// <summary>
    /// What killed builds leave that nothing collects yet (not counted as inconsistency: images and
    /// blobs are right, but the space stays used): active snapshots, OCI bundles, mount dirs, runtime states.
    /// </summary>
    public static string Leftovers(string state)
    {
        int active = 0;
        var snapshots = Path.Combine(state, "snapshots");
        if (Directory.Exists(snapshots))
            foreach (var meta in Directory.EnumerateFiles(snapshots, "meta.json", SearchOption.AllDirectories))
                if (File.ReadAllText(meta).Contains("\"Active\"", StringComparison.Ordinal)) active++;
        int Count(string sub) => Directory.Exists(Path.Combine(state, sub)) ? Directory.GetFileSystemEntries(Path.Combine(state, sub)).Length : 0;
        return $"{active} active snapshots, {Count("executor")} bundles in executor/, {Count("build-mounts")} dirs in build-mounts/, {Count(Path.Combine("runtime-root", "runc"))} runc states";
    }

    /// <summary>(name, digest) of every row of <c>img ls</c> (tab-separated; the digest is the last column).</summary>
    public static List<(string Name, string Digest)> ParseLs(string stdout)
    {
        var rows = new List<(string, string)>();
        foreach (var line in stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1))
        {
            var cols = line.Split('\t', StringSplitOptions.RemoveEmptyEntries);
            if (cols.Length >= 2 && cols[^1].StartsWith("sha256:", StringComparison.Ordinal)) rows.Add((cols[0], cols[^1]));
        }
        return rows;
    }

    private static void Reach(string blobs, string digest, string from, List<string> problems, int depth)
    {
        if (!digest.StartsWith("sha256:", StringComparison.Ordinal)) { problems.Add($"{from}: unexpected digest {digest}"); return; }
        var path = Path.Combine(blobs, digest["sha256:".Length..]);
        if (!File.Exists(path)) { problems.Add($"{from}: blob {digest} is missing"); return; }
        if (depth > 1) return; // configs and layers: present is enough
        JsonElement root;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            root = doc.RootElement.Clone();
        }
        catch (JsonException e) { problems.Add($"{from}: {digest} is not JSON: {e.Message}"); return; }
        if (root.TryGetProperty("manifests", out var manifests))
        {
            foreach (var m in manifests.EnumerateArray())
            {
                // An index may list platforms that were never pulled; the host's must be there.
                if (m.TryGetProperty("platform", out var p) && p.TryGetProperty("architecture", out var arch) && arch.GetString() != HostArchitecture)
                    continue;
                Reach(blobs, m.GetProperty("digest").GetString()!, $"{from} -> index {digest}", problems, depth);
            }
            return;
        }
        if (root.TryGetProperty("config", out var config) && config.ValueKind == JsonValueKind.Object)
        {
            Reach(blobs, config.GetProperty("digest").GetString()!, $"{from} -> manifest {digest} config", problems, depth + 2);
            if (root.TryGetProperty("layers", out var layers))
                foreach (var l in layers.EnumerateArray())
                    Reach(blobs, l.GetProperty("digest").GetString()!, $"{from} -> manifest {digest} layer", problems, depth + 2);
            return;
        }
        problems.Add($"{from}: {digest} is neither an index nor a manifest");
    }

    private static string HostArchitecture =>
        System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "arm64" : "amd64";

    // mountinfo escapes space, tab, newline and backslash as \ooo.
    private static string Unescape(string s) =>
        System.Text.RegularExpressions.Regex.Replace(s, @"\\([0-7]{3})", m => ((char)Convert.ToInt32(m.Groups[1].Value, 8)).ToString());
}
