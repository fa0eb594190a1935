namespace Img.Cli.Framework;

/// <summary>
/// pflag-compatible parsing: <c>--name=value</c>, <c>--name value</c>, <c>-n value</c>, <c>-nvalue</c>,
/// grouped short booleans (<c>-dq</c>), <c>--</c> ends flags. Flags and positionals may interleave.
/// </summary>
public static class FlagParser
{
    public static ParsedArgs Parse(IReadOnlyList<string> args, IReadOnlyList<Flag> flags)
    {
        var result = new ParsedArgs();
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            if (a == "--")
            {
                result.Positionals.AddRange(args.Skip(i + 1));
                break;
            }
            if (a.StartsWith("--", StringComparison.Ordinal))
            {
                string body = a[2..];
                string? inline = null;
                int eq = body.IndexOf('=');
                if (eq >= 0) { inline = body[(eq + 1)..]; body = body[..eq]; }
                var flag = flags.FirstOrDefault(f => f.Name == body || f.Aliases.Contains(body))
                    ?? throw new UsageException($"unknown flag: --{body}", showUsage: true);
                i = Consume(flag, inline, args, i, result, $"--{body}");
            }
            else if (a.Length > 1 && a[0] == '-')
            {
                for (int j = 1; j < a.Length; j++)
                {
                    char c = a[j];
                    var flag = flags.FirstOrDefault(f => f.Short == c)
                        ?? throw new UsageException($"unknown shorthand flag: '{c}' in {a}", showUsage: true);
                    if (flag.Kind == FlagKind.Bool)
                    {
                        if (j + 1 < a.Length && a[j + 1] == '=')
                        {
                            result.Add(flag.Name, ParseBool(a[(j + 2)..], flag));
                            break;
                        }
                        result.Add(flag.Name, "true");
                        continue;
                    }
                    string rest = a[(j + 1)..];
                    if (rest.StartsWith('=')) rest = rest[1..];
                    i = Consume(flag, rest.Length > 0 ? rest : null, args, i, result, $"-{c}");
                    break;
                }
            }
            else
            {
                result.Positionals.Add(a);
            }
        }
        return result;
    }

    private static int Consume(Flag flag, string? inline, IReadOnlyList<string> args, int i, ParsedArgs result, string shown)
    {
        if (flag.Kind == FlagKind.Bool)
        {
            result.Add(flag.Name, inline is null ? "true" : ParseBool(inline, flag));
            return i;
        }
        if (inline is not null)
        {
            result.Add(flag.Name, inline);
            return i;
        }
        if (i + 1 >= args.Count)
            throw new UsageException($"flag needs an argument: {shown}", showUsage: true);
        result.Add(flag.Name, args[i + 1]);
        return i + 1;
    }

    private static string ParseBool(string v, Flag flag) => v switch
    {
        "1" or "t" or "T" or "true" or "TRUE" or "True" => "true",
        "0" or "f" or "F" or "false" or "FALSE" or "False" => "false",
        _ => throw new UsageException($"invalid argument \"{v}\" for \"--{flag.Name}\" flag: strconv.ParseBool: parsing \"{v}\": invalid syntax", showUsage: true),
    };
}
