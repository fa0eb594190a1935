namespace Img.Dockerfile;

/// <summary>Where an instruction came from.</summary>
/// <param name="StartLine">1-based first line.</param>
/// <param name="EndLine">1-based last line.</param>
/// <param name="Original">The instruction text with continuations joined.</param>
public sealed record SourceLocation(int StartLine, int EndLine, string Original)
{
    /// <summary>Location of a parse-tree node.</summary>
    public static SourceLocation Of(Node node) => new(node.StartLine, node.EndLine, node.Original);
}

/// <summary>A typed Dockerfile instruction. Words are still unexpanded; <see cref="BuildPlan"/> expands them.</summary>
public abstract record Instruction
{
    /// <summary>Upper-case instruction name, e.g. <c>COPY</c>.</summary>
    public abstract string Name { get; }

    /// <summary>Source position and text.</summary>
    public SourceLocation Location { get; init; } = new(0, 0, "");

    /// <summary>Comment lines written directly above the instruction.</summary>
    public IReadOnlyList<string> Comments { get; init; } = [];
}

/// <summary><c>ENV</c>/<c>LABEL</c> pair. <paramref name="NoDelim"/> marks the legacy <c>ENV k v</c> form.</summary>
public sealed record KeyValue(string Key, string Value, bool NoDelim = false);

/// <summary>One <c>ARG</c> definition; <see cref="Value"/> is null for <c>ARG NAME</c> without default.</summary>
public sealed record ArgDefinition(string Key, string? Value);

/// <summary>
/// A command line of RUN/CMD/ENTRYPOINT. In shell form <see cref="Args"/> holds one string and
/// <see cref="PrependShell"/> is true; in JSON (exec) form it holds the array.
/// </summary>
public sealed record CommandLine(IReadOnlyList<string> Args, bool PrependShell);

/// <summary>Inline file content of <c>COPY &lt;&lt;EOF dest</c>.</summary>
/// <param name="Path">File name (the heredoc delimiter).</param>
/// <param name="Data">Body, already chomped for <c>&lt;&lt;-</c>.</param>
/// <param name="Expand">Whether variables in the body are expanded (unquoted delimiter).</param>
public sealed record SourceContent(string Path, string Data, bool Expand);

/// <summary>Sources and destination of COPY/ADD.</summary>
public sealed record SourcesAndDest(IReadOnlyList<string> SourcePaths, IReadOnlyList<SourceContent> SourceContents, string Dest);

/// <summary><c>FROM [--platform=p] image [AS name]</c>.</summary>
public sealed record FromInstruction(string BaseName, string? StageName, string? Platform) : Instruction
{
    /// <inheritdoc/>
    public override string Name => "FROM";
}

/// <summary><c>RUN</c> with its mounts, network and security mode.</summary>
/// <param name="Command">The command line.</param>
/// <param name="MountSpecs">Raw <c>--mount</c> values; re-parsed with expansion at build time.</param>
/// <param name="Mounts">Mounts parsed without variable expansion (values containing <c>$</c> are left at their defaults).</param>
/// <param name="Network"><c>default</c>, <c>none</c>, <c>host</c> or null.</param>
/// <param name="Security"><c>sandbox</c>, <c>insecure</c> or null.</param>
/// <param name="Heredocs">Heredoc bodies referenced by the command (run as scripts or fed as stdin).</param>
public sealed record RunInstruction(
    CommandLine Command,
    IReadOnlyList<string> MountSpecs,
    IReadOnlyList<RunMount> Mounts,
    string? Network,
    string? Security,
    IReadOnlyList<Heredoc> Heredocs) : Instruction
{
    /// <inheritdoc/>
    public override string Name => "RUN";
}

/// <summary><c>CMD</c>.</summary>
public sealed record CmdInstruction(CommandLine Command) : Instruction
{
    /// <inheritdoc/>
    public override string Name => "CMD";
}

/// <summary><c>ENTRYPOINT</c>; an empty JSON array yields an empty <see cref="CommandLine.Args"/>.</summary>
public sealed record EntrypointInstruction(CommandLine Command) : Instruction
{
    /// <inheritdoc/>
    public override string Name => "ENTRYPOINT";
}

/// <summary><c>SHELL ["exe", "arg"]</c>.</summary>
public sealed record ShellInstruction(IReadOnlyList<string> Shell) : Instruction
{
    /// <inheritdoc/>
    public override string Name => "SHELL";
}

/// <summary><c>ENV</c>.</summary>
public sealed record EnvInstruction(IReadOnlyList<KeyValue> Env) : Instruction
{
    /// <inheritdoc/>
    public override string Name => "ENV";
}

/// <summary><c>LABEL</c>.</summary>
public sealed record LabelInstruction(IReadOnlyList<KeyValue> Labels) : Instruction
{
    /// <inheritdoc/>
    public override string Name => "LABEL";
}

/// <summary><c>ARG a b=2 ...</c>.</summary>
public sealed record ArgInstruction(IReadOnlyList<ArgDefinition> Args) : Instruction
{
    /// <inheritdoc/>
    public override string Name => "ARG";
}

/// <summary><c>EXPOSE</c>; ports are validated after expansion (<see cref="PortSpec"/>).</summary>
public sealed record ExposeInstruction(IReadOnlyList<string> Ports) : Instruction
{
    /// <inheritdoc/>
    public override string Name => "EXPOSE";
}

/// <summary><c>VOLUME</c>.</summary>
public sealed record VolumeInstruction(IReadOnlyList<string> Volumes) : Instruction
{
    /// <inheritdoc/>
    public override string Name => "VOLUME";
}

/// <summary><c>USER</c>.</summary>
public sealed record UserInstruction(string User) : Instruction
{
    /// <inheritdoc/>
    public override string Name => "USER";
}

/// <summary><c>WORKDIR</c>.</summary>
public sealed record WorkdirInstruction(string Path) : Instruction
{
    /// <inheritdoc/>
    public override string Name => "WORKDIR";
}

/// <summary><c>STOPSIGNAL</c>.</summary>
public sealed record StopSignalInstruction(string Signal) : Instruction
{
    /// <inheritdoc/>
    public override string Name => "STOPSIGNAL";
}

/// <summary><c>MAINTAINER</c> (deprecated; becomes the image author).</summary>
public sealed record MaintainerInstruction(string Maintainer) : Instruction
{
    /// <inheritdoc/>
    public override string Name => "MAINTAINER";
}

/// <summary><c>ONBUILD</c>; <see cref="Expression"/> is the trigger text stored in the image config.</summary>
public sealed record OnbuildInstruction(string Expression) : Instruction
{
    /// <inheritdoc/>
    public override string Name => "ONBUILD";
}

/// <summary>Health check settings; <see cref="Test"/> is <c>["NONE"]</c>, <c>["CMD", ...]</c> or <c>["CMD-SHELL", cmd]</c>.</summary>
public sealed record HealthConfig(IReadOnlyList<string> Test, TimeSpan Interval, TimeSpan Timeout, TimeSpan StartPeriod, TimeSpan StartInterval, int Retries);

/// <summary><c>HEALTHCHECK</c>.</summary>
public sealed record HealthcheckInstruction(HealthConfig Health) : Instruction
{
    /// <inheritdoc/>
    public override string Name => "HEALTHCHECK";
}

/// <summary><c>COPY</c>.</summary>
public sealed record CopyInstruction(
    SourcesAndDest Files,
    string? From,
    string? Chown,
    string? Chmod,
    bool Link,
    bool Parents,
    IReadOnlyList<string> Excludes) : Instruction
{
    /// <inheritdoc/>
    public override string Name => "COPY";
}

/// <summary><c>ADD</c>; <see cref="Unpack"/> is null when <c>--unpack</c> was not given (auto: local archives only).</summary>
public sealed record AddInstruction(
    SourcesAndDest Files,
    string? Chown,
    string? Chmod,
    bool Link,
    bool KeepGitDir,
    string? Checksum,
    bool? Unpack,
    IReadOnlyList<string> Excludes) : Instruction
{
    /// <inheritdoc/>
    public override string Name => "ADD";
}
