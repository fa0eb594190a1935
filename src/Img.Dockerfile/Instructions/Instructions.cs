using System.Text.RegularExpressions;

namespace Img.Dockerfile;

/// <summary>Converts parse-tree nodes into typed <see cref="Instruction"/>s, with BuildKit's arity and flag checks.</summary>
public static partial class Instructions
{
    /// <summary>Every instruction name the frontend knows (upper case).</summary>
    public static readonly IReadOnlyList<string> Known =
    [
        "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL", "MAINTAINER",
        "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
    ];

    /// <summary>Parses one instruction node. Errors carry the node's line range.</summary>
    public static Instruction Parse(Node node)
    {
        try
        {
            var instruction = ParseUnlocated(node);
            return instruction with { Location = SourceLocation.Of(node), Comments = node.PrevComment };
        }
        catch (DockerfileException e)
        {
            throw e.WithLocation(node.StartLine, node.EndLine);
        }
    }

    private static Instruction ParseUnlocated(Node node)
    {
        var args = node.ArgumentValues();
        var flags = new BuilderFlags(node.Flags);
        if (node.Heredocs.Count > 0 && !HeredocSyntax.Instructions.Contains(node.Value))
            throw new DockerfileException($"{node.Value.ToUpperInvariant()} does not support heredocs");
        return node.Value switch
        {
            "env" => new EnvInstruction(ParseKeyValues(args, "ENV", flags)),
            "label" => new LabelInstruction(ParseKeyValues(args, "LABEL", flags)),
            "maintainer" => new MaintainerInstruction(ExactlyOne(args, "MAINTAINER", flags)),
            "add" => ParseAdd(node, args, flags),
            "copy" => ParseCopy(node, args, flags),
            "from" => ParseFrom(args, flags),
            "onbuild" => ParseOnbuild(node, args, flags),
            "workdir" => new WorkdirInstruction(ExactlyOne(args, "WORKDIR", flags)),
            "run" => ParseRun(node, args, flags),
            "cmd" => ParseCmd(node, args, flags),
            "entrypoint" => ParseEntrypoint(node, args, flags),
            "healthcheck" => ParseHealthcheck(node, args, flags),
            "expose" => ParseExpose(args, flags),
            "user" => new UserInstruction(ExactlyOne(args, "USER", flags)),
            "volume" => ParseVolume(args, flags),
            "stopsignal" => new StopSignalInstruction(ExactlyOne(args, "STOPSIGNAL", flags)),
            "arg" => ParseArg(args, flags),
            "shell" => ParseShell(node, args, flags),
            _ => throw new DockerfileException(Suggest.Wrap($"unknown instruction: {node.Value.ToUpperInvariant()}", node.Value.ToUpperInvariant(), Known)),
        };
    }

    private static string ExactlyOne(List<string> args, string name, BuilderFlags flags)
    {
        if (args.Count != 1)
            throw new DockerfileException($"{name} requires exactly one argument");
        flags.Parse();
        return args[0];
    }

    private static List<KeyValue> ParseKeyValues(List<string> args, string name, BuilderFlags flags)
    {
        flags.Parse();
        if (args.Count == 0)
            throw new DockerfileException($"{name} requires at least one argument");
        if (args.Count % 3 != 0)
            throw new DockerfileException($"Bad input to {name}, too many arguments");
        var result = new List<KeyValue>();
        for (var i = 0; i < args.Count; i += 3)
        {
            if (args[i].Length == 0)
                throw new DockerfileException($"{name} names can not be blank");
            result.Add(new KeyValue(args[i], args[i + 1], args[i + 2].Length == 0));
        }
        return result;
    }

    private static FromInstruction ParseFrom(List<string> args, BuilderFlags flags)
    {
        string? stageName = null;
        if (args.Count == 3 && args[1].Equals("as", StringComparison.OrdinalIgnoreCase))
        {
            stageName = args[2].ToLowerInvariant();
            if (!ValidStageName().IsMatch(stageName))
                throw new DockerfileException($"invalid name for build stage: {GoQuote.Quote(args[2])}, name can't start with a number or contain symbols");
        }
        else if (args.Count != 1)
        {
            throw new DockerfileException("FROM requires either one or three arguments");
        }
        flags.AddString("platform");
        flags.Parse();
        var platform = flags.String("platform");
        return new FromInstruction(args[0], stageName, platform.Length == 0 ? null : platform);
    }

    private static OnbuildInstruction ParseOnbuild(Node node, List<string> args, BuilderFlags flags)
    {
        if (args.Count == 0)
            throw new DockerfileException("ONBUILD requires at least one argument");
        flags.Parse();
        var trigger = args[0].Trim().ToUpperInvariant();
        switch (trigger)
        {
            case "ONBUILD":
                throw new DockerfileException("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
            case "MAINTAINER" or "FROM":
                throw new DockerfileException($"{trigger} isn't allowed as an ONBUILD trigger");
        }
        // Validate the trigger now so mistakes surface in the Dockerfile that declares it.
        if (node.Next is { Children.Count: 1 } holder)
            ParseUnlocated(holder.Children[0]);
        return new OnbuildInstruction(OnbuildPrefix().Replace(node.Original, ""));
    }

    private static CommandLine ShellDependent(Node node, List<string> args) =>
        new(node.IsJson || args.Count == 0 ? args : [string.Join(' ', args)], !node.IsJson);

    private static RunInstruction ParseRun(Node node, List<string> args, BuilderFlags flags)
    {
        flags.AddStrings("mount");
        flags.AddString("network");
        flags.AddString("security");
        flags.Parse();
        var network = flags.IsUsed("network") ? flags.String("network") : null;
        if (network is not null && network is not ("default" or "none" or "host"))
            throw new DockerfileException($"unsupported network mode {GoQuote.Quote(network)}");
        var security = flags.IsUsed("security") ? flags.String("security") : null;
        if (security is not null && security is not ("sandbox" or "insecure"))
            throw new DockerfileException($"unsupported security mode {GoQuote.Quote(security)}");
        var specs = flags.Strings("mount");
        var mounts = specs.Select(s => RunMountParser.Parse(s)).ToList();
        // Bodies stay raw: a heredoc fed to a command goes to the shell as written, which strips the tabs of <<- itself.
        return new RunInstruction(ShellDependent(node, args), specs, mounts, network, security, [.. node.Heredocs]);
    }

    private static CmdInstruction ParseCmd(Node node, List<string> args, BuilderFlags flags)
    {
        flags.Parse();
        return new CmdInstruction(ShellDependent(node, args));
    }

    private static EntrypointInstruction ParseEntrypoint(Node node, List<string> args, BuilderFlags flags)
    {
        flags.Parse();
        return new EntrypointInstruction(ShellDependent(node, args));
    }

    private static ShellInstruction ParseShell(Node node, List<string> args, BuilderFlags flags)
    {
        flags.Parse();
        if (args.Count == 0)
            throw new DockerfileException("SHELL requires at least one argument");
        if (!node.IsJson)
            throw new DockerfileException("SHELL requires the arguments to be in JSON form");
        return new ShellInstruction(args);
    }

    private static HealthcheckInstruction ParseHealthcheck(Node node, List<string> args, BuilderFlags flags)
    {
        if (args.Count == 0)
            throw new DockerfileException("HEALTHCHECK requires at least one argument");
        var type = args[0].ToUpperInvariant();
        var rest = args.Skip(1).ToList();
        if (type == "NONE")
        {
            if (rest.Count != 0)
                throw new DockerfileException("HEALTHCHECK NONE takes no arguments");
            flags.Parse();
            return new HealthcheckInstruction(new HealthConfig(["NONE"], default, default, default, default, 0));
        }
        flags.AddString("interval");
        flags.AddString("timeout");
        flags.AddString("start-period");
        flags.AddString("start-interval");
        flags.AddString("retries");
        flags.Parse();
        if (type != "CMD")
            throw new DockerfileException($"Unknown type {GoQuote.Quote(type)} in HEALTHCHECK (try CMD)");
        var cmd = node.IsJson || rest.Count == 0 ? rest : [string.Join(' ', rest)];
        if (cmd.Count == 0)
            throw new DockerfileException("Missing command after HEALTHCHECK CMD");
        var test = new List<string> { node.IsJson ? "CMD" : "CMD-SHELL" };
        test.AddRange(cmd);
        var retries = 0;
        var retriesText = flags.String("retries");
        if (retriesText.Length > 0)
        {
            if (!int.TryParse(retriesText, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out retries))
                throw new DockerfileException($"strconv.ParseInt: parsing {GoQuote.Quote(retriesText)}: invalid syntax");
            if (retries < 0)
                throw new DockerfileException($"--retries cannot be negative ({retries})");
        }
        return new HealthcheckInstruction(new HealthConfig(
            test,
            OptInterval(flags, "interval"),
            OptInterval(flags, "timeout"),
            OptInterval(flags, "start-period"),
            OptInterval(flags, "start-interval"),
            retries));
    }

    /// <summary>A HEALTHCHECK duration: empty or 0 means "default"; otherwise at least 1ms.</summary>
    private static TimeSpan OptInterval(BuilderFlags flags, string name)
    {
        var s = flags.String(name);
        if (s.Length == 0)
            return TimeSpan.Zero;
        var d = GoDuration.Parse(s);
        if (d == TimeSpan.Zero)
            return d;
        if (d < TimeSpan.FromMilliseconds(1))
            throw new DockerfileException($"Interval {GoQuote.Quote(name)} cannot be less than 1ms");
        return d;
    }

    private static ExposeInstruction ParseExpose(List<string> args, BuilderFlags flags)
    {
        if (args.Count == 0)
            throw new DockerfileException("EXPOSE requires at least one argument");
        flags.Parse();
        return new ExposeInstruction(args);
    }

    private static VolumeInstruction ParseVolume(List<string> args, BuilderFlags flags)
    {
        if (args.Count == 0)
            throw new DockerfileException("VOLUME requires at least one argument");
        flags.Parse();
        var volumes = new List<string>();
        foreach (var v in args)
        {
            var t = v.Trim();
            if (t.Length == 0)
                throw new DockerfileException("VOLUME specified can not be an empty string");
            volumes.Add(t);
        }
        return new VolumeInstruction(volumes);
    }

    private static ArgInstruction ParseArg(List<string> args, BuilderFlags flags)
    {
        if (args.Count == 0)
            throw new DockerfileException("ARG requires at least one argument");
        flags.Parse();
        var defs = new List<ArgDefinition>();
        foreach (var arg in args)
        {
            var eq = arg.IndexOf('=');
            if (eq < 0)
            {
                defs.Add(new ArgDefinition(arg, null));
                continue;
            }
            if (eq == 0)
                throw new DockerfileException("ARG names can not be blank");
            defs.Add(new ArgDefinition(arg[..eq], arg[(eq + 1)..]));
        }
        return new ArgInstruction(defs);
    }

    private static CopyInstruction ParseCopy(Node node, List<string> args, BuilderFlags flags)
    {
        if (args.Count < 2)
            throw new DockerfileException("COPY requires at least two arguments, but only one was provided. Destination could not be determined");
        flags.AddString("chown");
        flags.AddString("from");
        flags.AddString("chmod");
        flags.AddBool("link");
        flags.AddBool("parents");
        flags.AddStrings("exclude");
        flags.Parse();
        var from = Optional(flags.String("from"));
        if (from is not null && from.Contains('$'))
            throw new DockerfileException("variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround");
        return new CopyInstruction(
            SourcesAndDest(node, args, "COPY"),
            from,
            Optional(flags.String("chown")),
            ValidateChmod(flags.String("chmod")),
            flags.Bool("link"),
            flags.Bool("parents"),
            flags.Strings("exclude"));
    }

    private static AddInstruction ParseAdd(Node node, List<string> args, BuilderFlags flags)
    {
        if (args.Count < 2)
            throw new DockerfileException("ADD requires at least two arguments, but only one was provided. Destination could not be determined");
        flags.AddString("chown");
        flags.AddString("chmod");
        flags.AddBool("link");
        flags.AddBool("keep-git-dir");
        flags.AddString("checksum");
        flags.AddBool("unpack");
        flags.AddStrings("exclude");
        flags.Parse();
        return new AddInstruction(
            SourcesAndDest(node, args, "ADD"),
            Optional(flags.String("chown")),
            ValidateChmod(flags.String("chmod")),
            flags.Bool("link"),
            flags.Bool("keep-git-dir"),
            Optional(flags.String("checksum")),
            flags.OptionalBool("unpack"),
            flags.Strings("exclude"));
    }

    private static string? Optional(string s) => s.Length == 0 ? null : s;

    private static string? ValidateChmod(string chmod)
    {
        if (chmod.Length == 0)
            return null;
        if (!chmod.Contains('$'))
            ChmodSpec.Parse(chmod); // a literal mode is checked now; a variable one after expansion
        return chmod;
    }

    private static SourcesAndDest SourcesAndDest(Node node, List<string> args, string command)
    {
        var dest = args[^1];
        if (HeredocSyntax.Parse(dest) is not null)
            throw new DockerfileException($"{command} cannot accept a heredoc as a destination");
        var bodies = new Dictionary<string, Heredoc>();
        foreach (var h in node.Heredocs)
            bodies[h.Name] = h;
        var paths = new List<string>();
        var contents = new List<SourceContent>();
        foreach (var src in args.Take(args.Count - 1))
        {
            if (!node.IsJson && HeredocSyntax.Parse(src) is { } marker)
            {
                var body = bodies.TryGetValue(marker.Name, out var h) ? h.Content : "";
                if (marker.Chomp)
                    body = HeredocSyntax.ChompContent(body);
                contents.Add(new SourceContent(marker.Name, body, marker.Expand));
            }
            else
            {
                paths.Add(src);
            }
        }
        return new SourcesAndDest(paths, contents, dest);
    }

    [GeneratedRegex("^[a-z][a-z0-9-_\\.]*$", RegexOptions.CultureInvariant)]
    private static partial Regex ValidStageName();

    [GeneratedRegex(@"^\s*ONBUILD\s*", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex OnbuildPrefix();
}
