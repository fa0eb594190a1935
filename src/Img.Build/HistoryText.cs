using Img.Dockerfile;

namespace Img.Build;

/// <summary>
/// <c>created_by</c> texts of history entries spelled as BuildKit's Dockerfile frontend spells them, so
/// <c>docker history</c> and <c>skopeo inspect --config</c> read the same for an image built by either.
/// </summary>
internal static class HistoryText
{
    /// <summary>
    /// The RUN text without its <c># buildkit</c> suffix: <c>|2 A=1 B=2 /bin/sh -c …</c> when ARGs are in scope. Each
    /// ARG shows the value the step sees (an ENV of the same name wins), or an empty one; a name declared again keeps
    /// its first place.
    /// </summary>
    public static string RunCommand(IReadOnlyList<string> argv, IEnumerable<KeyValuePair<string, string?>> args, IReadOnlyDictionary<string, string> env)
    {
        var shown = new List<string>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (key, value) in args)
        {
            var text = key + "=" + (env.TryGetValue(key, out var v) ? v : value ?? "");
            if (index.TryGetValue(key, out var i)) shown[i] = text;
            else { index[key] = shown.Count; shown.Add(text); }
        }
        if (shown.Count > 0) shown.Insert(0, "|" + shown.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return string.Join(' ', shown.Concat(argv));
    }

    /// <summary>EXPOSE as Go prints the frontend's port set: <c>map[443/tcp:{} 80/tcp:{}]</c>, keys sorted.</summary>
    public static string Expose(IEnumerable<string> ports) =>
        "EXPOSE map[" + string.Join(' ', ports.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).Select(p => p + ":{}")) + "]";

    /// <summary>COPY/ADD: the verb, <c>--parents</c>, <c>--chown=</c>, <c>--chmod=</c>, the sources, <c>&lt;&lt;NAME</c> per heredoc and the destination as written.</summary>
    public static string Copy(string verb, bool parents, string? chown, string? chmod, Img.Dockerfile.SourcesAndDest files)
    {
        var parts = new List<string> { verb };
        if (parents) parts.Add("--parents");
        if (!string.IsNullOrEmpty(chown)) parts.Add("--chown=" + chown);
        if (!string.IsNullOrEmpty(chmod)) parts.Add("--chmod=" + chmod);
        parts.AddRange(files.SourcePaths);
        parts.AddRange(files.SourceContents.Select(c => "<<" + c.Path));
        parts.Add(files.Dest);
        return string.Join(' ', parts);
    }

    /// <summary>
    /// A config-only instruction other than CMD and ENTRYPOINT (see <see cref="Command"/>), as written after expansion:
    /// the running build and the graph converter both spell its history entry here.
    /// </summary>
    public static string ConfigChange(Instruction ins) => ins switch
    {
        EnvInstruction env => "ENV " + string.Join(' ', env.Env.Select(kv => kv.Key + "=" + kv.Value)),
        ArgInstruction arg => "ARG " + string.Join(' ', arg.Args.Select(a => a.Value is null ? a.Key : a.Key + "=" + a.Value)),
        LabelInstruction label => "LABEL " + string.Join(' ', label.Labels.Select(kv => kv.Key + "=" + kv.Value)),
        ExposeInstruction expose => Expose(expose.Ports.SelectMany(PortSpec.Parse)),
        VolumeInstruction volume => "VOLUME [" + string.Join(' ', volume.Volumes) + "]",
        UserInstruction user => "USER " + user.User,
        StopSignalInstruction stop => "STOPSIGNAL " + stop.Signal,
        MaintainerInstruction m => "MAINTAINER " + m.Maintainer,
        OnbuildInstruction onbuild => "ONBUILD " + onbuild.Expression,
        ShellInstruction shell => "SHELL [" + string.Join(' ', shell.Shell) + "]",
        HealthcheckInstruction hc => "HEALTHCHECK " + string.Join(' ', hc.Health.Test),
        _ => throw new ArgumentException($"{ins.Name} has no config-only history text", nameof(ins)),
    };

    /// <summary>CMD or ENTRYPOINT with the argv it set: <c>CMD ["/bin/sh" "-c" "echo hi"]</c>.</summary>
    public static string Command(string verb, IEnumerable<string> argv) => verb + " [" + string.Join(' ', argv.Select(Quote)) + "]";

    private static string Quote(string s) =>
        "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
