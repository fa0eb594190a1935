using System.Diagnostics.CodeAnalysis;
using Img.Runtime.Namespaces;
using Img.Runtime.Snapshots;

namespace Img.Cli.Framework;

/// <summary>
/// Finds the command, parses global and command flags in any order (the original's
/// <c>img -d ls</c> breaks; ours does not), and turns failures into <c>Error: …</c> and exit 1.
/// </summary>
public sealed class CliApp(IReadOnlyList<Command> commands)
{

    public static IReadOnlyList<Flag> GlobalFlags { get; } =
    [
        new("backend", 'b', FlagKind.String, $"backend for snapshots ([{string.Join(' ', BackendChoice.Names)}])", "auto"),
        new("debug", 'd', FlagKind.Bool, "enable debug logging"),
        new("state", 's', FlagKind.String, "directory to hold the global state", DefaultStateDir()),
        new("version", 'v', FlagKind.Bool, "Print version information and quit"),
    ];

    public IReadOnlyList<Command> Commands { get; } = commands;

    public async Task<int> RunAsync(string[] args, CancellationToken ct)
    {
        var (command, rest, unknown) = FindCommand(args);
        if (unknown is not null)
        {
            Console.Error.Write($"Error: img: '{unknown}' is not an img command.\nSee 'img --help'\n");
            return 1;
        }
        if (command is null) return RunRoot(rest);

        var flags = command.Flags.Concat(GlobalFlags.Where(f => f.Name != "version")).Append(HelpWriter.HelpFlag(command.Name)).ToList();
        ParsedArgs parsed;
        try
        {
            parsed = FlagParser.Parse(rest, flags);
        }
        catch (UsageException e)
        {
            Console.Error.Write($"Error: {e.Message}\n{HelpWriter.ForCommand(command, GlobalFlags)}");
            return 1;
        }
        if (parsed.Bool("help"))
        {
            Console.Out.Write(HelpWriter.ForCommand(command, GlobalFlags));
            return 0;
        }
        try
        {
            var context = CreateContext(parsed);
            if (command.NeedsUserNamespace)
            {
                // An ordinary user works on images as root of a user namespace of their own.
                var exitCode = await UserNamespace.EnterOrReexecAsync(Environment.ProcessPath ?? "/proc/self/exe", args, Console.Error, ct).ConfigureAwait(false);
                if (exitCode is { } code) return code;
            }
            return await command.RunAsync(context, parsed, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            Console.Error.WriteLine("Error: canceled");
            return 130;
        }
        catch (Exception e) when (e is UsageException or CommandException or UserNamespaceException)
        {
            Console.Error.WriteLine($"Error: {e.Message}");
            return 1;
        }
        catch (Exception e) when (IsUserFacing(e))
        {
            Console.Error.WriteLine($"Error: {e.Message}");
            return 1;
        }
    }

    /// <summary>Errors from the rooms below already say what went wrong in the user's terms.</summary>
    private static bool IsUserFacing(Exception e) => e is not (NullReferenceException or IndexOutOfRangeException or InvalidCastException or ArgumentNullException or StackOverflowException);

    private int RunRoot(List<string> rest)
    {
        ParsedArgs parsed;
        try
        {
            parsed = FlagParser.Parse(rest, GlobalFlags.Append(HelpWriter.HelpFlag("img")).ToList());
        }
        catch (UsageException e)
        {
            Console.Error.Write($"Error: {e.Message}\n{HelpWriter.ForRoot(Commands, GlobalFlags)}");
            return 1;
        }
        if (parsed.Bool("version"))
        {
            Console.Out.Write($"img version {BuildInfo.Version}, build {BuildInfo.GitCommit}\n");
            return 0;
        }
        Console.Out.Write(HelpWriter.ForRoot(Commands, GlobalFlags));
        return 0;
    }

    /// <summary>The first word that is neither a flag nor a global flag's value names the command.</summary>
    private (Command? Command, List<string> Remaining, string? Unknown) FindCommand(string[] args)
    {
        var rest = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            if (a == "--") { rest.AddRange(args.Skip(i)); break; }
            if (a.StartsWith('-'))
            {
                rest.Add(a);
                if (TakesValue(a) && i + 1 < args.Length) rest.Add(args[++i]);
                continue;
            }
            if (a == "help")
            {
                // `img help build` is `img build --help`.
                var target = i + 1 < args.Length ? Commands.FirstOrDefault(c => c.Name == args[i + 1]) : null;
                if (target is not null) return (target, ["--help"], null);
                return (null, [.. rest, "--help"], null);
            }
            var cmd = Commands.FirstOrDefault(c => c.Name == a);
            if (cmd is null) return (null, rest, a);
            rest.AddRange(args.Skip(i + 1));
            return (cmd, rest, null);
        }
        return (null, rest, null);
    }

    private static bool TakesValue(string arg) =>
        arg is "-b" or "--backend" or "-s" or "--state";

    private static CommandContext CreateContext(ParsedArgs parsed)
    {
        BackendChoice backend;
        try { backend = BackendChoice.Parse(parsed.String("backend", "auto")); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        string state = parsed.String("state", "");
        if (state.Length == 0) state = DefaultStateDir();
        return new CommandContext
        {
            StateDir = Path.GetFullPath(state),
            Backend = backend,
            Debug = parsed.Bool("debug"),
        };
    }

    /// <summary><c>$XDG_DATA_HOME/img</c> (first entry), else <c>~/.local/share/img</c>, else <c>/tmp/img</c>.</summary>
    public static string DefaultStateDir()
    {
        var xdg = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
        if (!string.IsNullOrEmpty(xdg))
        {
            var first = xdg.Split(':')[0];
            if (first.Length > 0) return Path.Combine(first, "img");
        }
        var home = Environment.GetEnvironmentVariable("HOME");
        if (!string.IsNullOrEmpty(home)) return Path.Combine(home, ".local", "share", "img");
        return "/tmp/img";
    }
}

public static class BuildInfo
{
    public static string Version => "v" + InformationalVersion.Split('+')[0];

    public static string GitCommit
    {
        get
        {
            var parts = InformationalVersion.Split('+');
            return parts.Length > 1 && parts[1].Length >= 8 ? parts[1][..8] : "unknown";
        }
    }

    [SuppressMessage("Performance", "CA1810", Justification = "read once")]
    private static string InformationalVersion { get; } =
        typeof(BuildInfo).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion ?? "0.0.0";
}
