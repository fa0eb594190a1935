namespace Img.Dockerfile;

/// <summary>
/// Image-config rules of the Dockerfile frontend that the build engine applies, on plain lists so they do not
/// depend on the OCI types: default PATH and shell, shell-form wrapping, ENV replace-or-append, ENTRYPOINT/CMD.
/// </summary>
public static class ImageConfigRules
{
    /// <summary>Default PATH for Linux images without one.</summary>
    public const string DefaultLinuxPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /// <summary>Default shell for shell-form commands on an OS.</summary>
    public static IReadOnlyList<string> DefaultShell(string os = "linux") =>
        os.Equals("windows", StringComparison.OrdinalIgnoreCase) ? ["cmd", "/S", "/C"] : ["/bin/sh", "-c"];

    /// <summary>The environment a scratch (or PATH-less) Linux image starts with.</summary>
    public static IReadOnlyList<string> DefaultEnv(string os = "linux") =>
        os.Equals("windows", StringComparison.OrdinalIgnoreCase) ? [] : ["PATH=" + DefaultLinuxPath];

    /// <summary>Adds PATH when the image env has none (BuildKit does this for every Linux stage).</summary>
    public static List<string> WithDefaultPath(IEnumerable<string> env, string os = "linux")
    {
        var list = env.ToList();
        if (!os.Equals("windows", StringComparison.OrdinalIgnoreCase) && !list.Any(e => KeyOf(e) == "PATH"))
            list.Add("PATH=" + DefaultLinuxPath);
        return list;
    }

    /// <summary>The argv for a RUN/CMD/ENTRYPOINT: shell form becomes <c>[shell..., text]</c>, exec form is kept.</summary>
    public static List<string> CommandArgs(CommandLine command, IReadOnlyList<string> shell)
    {
        if (!command.PrependShell)
            return [.. command.Args];
        var argv = new List<string>(shell);
        argv.Add(string.Join(' ', command.Args));
        return argv;
    }

    /// <summary>Sets <c>KEY=VALUE</c> in an env list: replaces the existing entry in place or appends (last wins, order kept).</summary>
    public static List<string> SetEnv(IEnumerable<string> env, string key, string value)
    {
        var list = env.ToList();
        var entry = key + "=" + value;
        var i = list.FindIndex(e => KeyOf(e) == key);
        if (i >= 0)
            list[i] = entry;
        else
            list.Add(entry);
        return list;
    }

    /// <summary>Looks up a key in an env list.</summary>
    public static string? GetEnv(IEnumerable<string> env, string key) =>
        env.Where(e => KeyOf(e) == key).Select(e => e[(e.IndexOf('=') is var i && i < 0 ? e.Length : i + 1)..]).LastOrDefault();

    /// <summary>
    /// CMD after an ENTRYPOINT instruction: an inherited CMD is reset unless the stage itself set CMD earlier.
    /// </summary>
    public static IReadOnlyList<string>? CmdAfterEntrypoint(IReadOnlyList<string>? currentCmd, bool cmdSetInStage) =>
        cmdSetInStage ? currentCmd : null;

    /// <summary>The key of a <c>KEY=VALUE</c> entry.</summary>
    public static string KeyOf(string entry)
    {
        var i = entry.IndexOf('=');
        return i < 0 ? entry : entry[..i];
    }
}
