using System.Globalization;
using System.Text;
using Img.Build;
using Img.Cli.Framework;
using Img.Content;
using Img.Dockerfile;
using Img.Dockerfile.Checks;
using Img.Oci;

namespace Img.Cli.Commands;

/// <summary>
/// The build checks as <c>img build</c> shows them: <c>--check</c>/<c>--call=check</c> prints buildx's report and
/// exits 1 when anything was found; a normal build prints the one-line summary after its progress, and fails before
/// building when the Dockerfile says <c># check=error=true</c>.
/// </summary>
public sealed class BuildChecks
{
    private BuildChecks(string fileName, string text, IReadOnlyList<CheckWarning> warnings, bool isError)
    {
        FileName = fileName;
        Text = text;
        Warnings = warnings;
        IsError = isError;
    }

    /// <summary>The Dockerfile's name as the report shows it.</summary>
    public string FileName { get; }

    /// <summary>The Dockerfile's text.</summary>
    public string Text { get; }

    /// <summary>What the checks found, by line.</summary>
    public IReadOnlyList<CheckWarning> Warnings { get; }

    /// <summary><c>error=true</c> and something was found: the build must not run.</summary>
    public bool IsError { get; }

    /// <summary>
    /// Runs the checks on <paramref name="dockerfile"/>; base images are looked up in the store only (never pulled).
    /// Null when the Dockerfile cannot be read or parsed and <paramref name="required"/> is false: the build reports that itself.
    /// </summary>
    public static async Task<BuildChecks?> RunAsync(string dockerfile, string contextDir, IReadOnlyDictionary<string, string> buildArgs, LocalStore store,
        Platform platform, bool required, CancellationToken ct)
    {
        try
        {
            // The build's own reader: a regular file, resolved inside the context, bounded (a FIFO is never waited on).
            var text = await DefinitionFile.ReadTextAsync(dockerfile, contextDir, "Dockerfile", ct);
            var document = DockerfileDocument.Parse(text);
            var settings = DockerfileLinter.Settings(document, buildArgs);
            var stageNames = document.Stages.Select(s => s.DisplayName).ToHashSet(StringComparer.Ordinal);
            var bases = document.Stages.Select(s => s.From.BaseName)
                .Where(n => !stageNames.Contains(n.ToLowerInvariant()) && !n.Equals("scratch", StringComparison.OrdinalIgnoreCase) && !n.Contains('$', StringComparison.Ordinal));
            var env = await StoredBaseImages.EnvironmentsAsync(store, bases, platform, ct);
            var input = new CheckInput(document, buildArgs, name => env.TryGetValue(name, out var e) ? e : null);
            var warnings = DockerfileLinter.Check(input, settings);
            return new BuildChecks(Path.GetFileName(dockerfile), text, warnings, settings.Error && warnings.Count > 0);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or DockerfileException)
        {
            if (required) throw new CommandException(BuildFailedException.MessageOf(e.Message));
            return null;
        }
    }

    /// <summary>buildx's <c>--check</c> report: a count, then each warning with its rule's page and the Dockerfile around it.</summary>
    public void WriteReport(TextWriter w)
    {
        if (Warnings.Count == 0)
        {
            w.Write("Check complete, no warnings found.\n");
            return;
        }
        w.Write(Warnings.Count == 1 ? "Check complete, 1 warning has been found!\n" : $"Check complete, {Warnings.Count} warnings have been found!\n");
        foreach (var warning in Warnings)
        {
            w.Write($"\nWARNING: {warning.Rule.Name} - {warning.Rule.Url}\n{warning.Detail}\n");
            WriteSource(w, warning);
        }
    }

    /// <summary>The summary a build prints after its progress (buildx's shape).</summary>
    public void WriteSummary(TextWriter w)
    {
        if (Warnings.Count == 0) return;
        var sb = new StringBuilder("\n ");
        sb.Append(Warnings.Count == 1 ? "1 warning found" : $"{Warnings.Count} warnings found").Append(" (use img build --check to expand):\n");
        foreach (var warning in Warnings) sb.Append(" - ").Append(warning).Append('\n');
        w.Write(sb.ToString());
    }

    /// <summary>The message a build fails with under <c># check=error=true</c>.</summary>
    public string ErrorMessage =>
        BuildFailedException.MessageOf("lint violation found for rules: " + string.Join(", ", Warnings.Select(x => x.Rule.Name).Distinct()));

    /// <summary>BuildKit's source excerpt: the lines with <c>&gt;&gt;&gt;</c>, padded with context as its errdefs printer pads them.</summary>
    private void WriteSource(TextWriter w, CheckWarning warning)
    {
        int start = warning.StartLine, end = warning.EndLine;
        var lines = Text.Split('\n');
        if (start < 1 || start > lines.Length) return;
        end = Math.Min(end, lines.Length);
        var first = start;
        var pad = end == start ? 4 : 2;
        for (var p = 0; p < pad; p++)
        {
            if (start > 1)
            {
                start--;
                p++;
            }
            if (end != lines.Length)
            {
                end++;
                p++;
            }
        }
        w.Write($"{FileName}:{first}\n--------------------\n");
        for (var i = start; i <= end; i++)
        {
            var marker = warning.StartLine <= i && i <= Math.Max(warning.StartLine, warning.EndLine) ? ">>>" : "   ";
            w.Write(string.Create(CultureInfo.InvariantCulture, $" {i,3} | {marker} {lines[i - 1]}\n"));
        }
        w.Write("--------------------\n");
    }
}
