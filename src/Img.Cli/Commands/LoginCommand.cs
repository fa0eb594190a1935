using System.Text;
using Img.Cli.Framework;
using Img.Registry;

namespace Img.Cli.Commands;

public sealed class LoginCommand : Command
{
    public override string Name => "login";
    public override string Short => "Log in to a Docker registry.";
    public override string Use => "login [OPTIONS] [SERVER]";
    public override IReadOnlyList<Flag> Flags { get; } =
    [
        new("password", 'p', FlagKind.String, "Password"),
        new("password-stdin", null, FlagKind.Bool, "Take the password from stdin"),
        new("username", 'u', FlagKind.String, "Username") { Aliases = ["user"] },
    ];

    public override async Task<int> RunAsync(CommandContext context, ParsedArgs args, CancellationToken ct)
    {
        if (args.Positionals.Count > 1) throw new UsageException($"login expects zero or one arguments, found {args.Positionals.Count}");
        string? server = args.Positionals.Count == 1 ? args.Positionals[0] : null;
        string username = args.String("username");
        string password = args.String("password");
        bool fromStdin = args.Bool("password-stdin");
        if (password.Length > 0)
        {
            context.Err.WriteLine("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
            if (fromStdin) throw new UsageException("--password and --password-stdin are mutually exclusive");
        }
        if (fromStdin)
        {
            if (username.Length == 0) throw new UsageException("must provide --username with --password-stdin");
            using var reader = new StreamReader(context.OpenStdin(), Encoding.UTF8);
            password = (await reader.ReadToEndAsync(ct)).TrimEnd('\n', '\r');
        }

        var options = RegistryOptions.FromEnvironment(log: context.Debug ? context.Log : null);
        var client = new RegistryClient(options);
        string key = ServerAddress.NormalizeLoginServer(server);
        if (username.Length == 0 && password.Length == 0 && options.DockerConfig is { } config
            && await config.GetCredentialsAsync(key, ct) is { Password: { Length: > 0 } storedPassword } stored)
        {
            // Already stored (file or credential helper): check them again, as docker does.
            username = stored.Username;
            password = storedPassword;
        }
        if (password.Length == 0)
        {
            if (!context.StdinIsTerminal) throw new CommandException("cannot perform an interactive login from a non TTY device");
            if (key == ServerAddress.DockerHubKey)
                context.Out.WriteLine("Login with your Docker ID to push and pull images from Docker Hub. If you don't have a Docker ID, head over to https://hub.docker.com to create one.");
            context.Out.Write(username.Length > 0 ? $"Username ({username}): " : "Username: ");
            var typed = Console.ReadLine()?.Trim() ?? "";
            if (typed.Length > 0) username = typed;
            if (username.Length == 0) throw new CommandException("username cannot be empty");
            context.Out.Write("Password: ");
            password = ReadHidden();
            context.Out.WriteLine();
            if (password.Length == 0) throw new CommandException("password is required");
        }
        if (username.Length == 0) throw new CommandException("username cannot be empty");
        await client.LoginAsync(server, username, password, ct);
        context.Out.WriteLine("Login succeeded.");
        return 0;
    }

    private static string ReadHidden()
    {
        var sb = new StringBuilder();
        while (true)
        {
            var k = Console.ReadKey(intercept: true);
            if (k.Key == ConsoleKey.Enter) return sb.ToString();
            if (k.Key == ConsoleKey.Backspace) { if (sb.Length > 0) sb.Length--; continue; }
            if (!char.IsControl(k.KeyChar)) sb.Append(k.KeyChar);
        }
    }
}
