using System.Diagnostics;

namespace Img.Cli.Commands;

/// <summary>Which OCI runtime RUN steps would use, and what it says of its version.</summary>
internal sealed record RuntimeVersion(string Name, IReadOnlyList<(string Key, string Value)> Fields)
{
    public static async Task<RuntimeVersion?> DescribeAsync(CancellationToken ct)
    {
        string? path = Find();
        if (path is null) return null;
        var psi = new ProcessStartInfo(path, "--version") { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi);
        if (p is null) return null;
        string text = await p.StandardOutput.ReadToEndAsync(ct);
        await p.WaitForExitAsync(ct);
        var fields = new List<(string, string)>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            // "runc version 1.1.5", "commit: abc", "spec: 1.0.2-dev", "crun version 1.8.1", "+SYSTEMD +SELINUX …"
            int colon = line.IndexOf(':');
            if (line.Contains(" version ", StringComparison.Ordinal) && colon < 0)
                fields.Add(("version", line[(line.IndexOf(" version ", StringComparison.Ordinal) + 9)..]));
            else if (colon > 0)
                fields.Add((line[..colon].Trim(), line[(colon + 1)..].Trim()));
            else
                fields.Add(("features", line));
        }
        fields.Insert(0, ("path", path));
        return new RuntimeVersion(Path.GetFileName(path), fields);
    }

    private static string? Find()
    {
        var env = Environment.GetEnvironmentVariable("IMG_RUNTIME");
        var candidates = string.IsNullOrEmpty(env) ? ["crun", "runc"] : new[] { env };
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/local/sbin", "/usr/sbin", "/sbin"]).ToList();
        foreach (var name in candidates)
        {
            if (name.Contains('/')) return File.Exists(name) ? name : null;
            foreach (var dir in dirs)
            {
                var full = Path.Combine(dir, name);
                if (File.Exists(full)) return full;
            }
        }
        return null;
    }
}
