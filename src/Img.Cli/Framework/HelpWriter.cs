using System.Text;

namespace Img.Cli.Framework;

/// <summary>Help in cobra's layout, so scripts and eyes used to the original find what they expect.</summary>
public static class HelpWriter
{
    public static string FlagUsages(IEnumerable<Flag> flags)
    {
        var lines = new List<(string Left, string Right)>();
        foreach (var f in flags.OrderBy(f => f.Name, StringComparer.Ordinal))
        {
            string left = f.Short is { } s ? $"  -{s}, --{f.Name}" : $"      --{f.Name}";
            if (f.TypeName.Length > 0) left += " " + f.TypeName;
            string right = f.Usage;
            if (f.Default.Length > 0)
                right += f.Kind == FlagKind.String ? $" (default \"{f.Default}\")" : $" (default {f.Default})";
            lines.Add((left, right));
        }
        int max = lines.Count == 0 ? 0 : lines.Max(l => l.Left.Length);
        var sb = new StringBuilder();
        foreach (var (left, right) in lines)
            sb.Append(left).Append(' ', max - left.Length + 3).Append(right).Append('\n');
        return sb.ToString();
    }

    public static string ForCommand(Command cmd, IReadOnlyList<Flag> globalFlags)
    {
        var local = cmd.Flags.Append(HelpFlag(cmd.Name));
        var sb = new StringBuilder();
        sb.Append($"{cmd.Name} -  {cmd.Short}\n\n");
        sb.Append($"Usage: img {cmd.Use}\n\n");
        sb.Append("Flags:\n").Append(FlagUsages(local)).Append('\n');
        sb.Append("Global Flags:\n").Append(FlagUsages(globalFlags.Where(f => f.Name != "version")));
        return sb.ToString();
    }

    public static string ForRoot(IReadOnlyList<Command> commands, IReadOnlyList<Flag> globalFlags)
    {
        var sb = new StringBuilder();
        sb.Append("img -  Standalone, daemon-less, unprivileged Dockerfile and OCI compatible container image builder\n\n");
        sb.Append("Usage: img [OPTIONS] COMMAND [ARG...]\n\n");
        sb.Append("Flags:\n").Append(FlagUsages(globalFlags.Append(HelpFlag("img")))).Append('\n');
        sb.Append("Commands:\n");
        var all = commands.Select(c => (c.Name, c.Short)).Append(("help", "Help about any command"))
            .OrderBy(c => c.Item1, StringComparer.Ordinal);
        foreach (var (name, shortText) in all)
            sb.Append("  ").Append(name.PadRight(11)).Append(' ').Append(shortText).Append('\n');
        sb.Append("\nUse \"img [command] --help\" for more information about a command.\n");
        return sb.ToString();
    }

    public static Flag HelpFlag(string name) => new("help", 'h', FlagKind.Bool, $"help for {name}");
}
