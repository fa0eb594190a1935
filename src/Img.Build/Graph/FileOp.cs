namespace Img.Build.Graph;

/// <summary>
/// File actions applied in order to one filesystem (<c>COPY</c>, <c>ADD</c>, <c>WORKDIR</c>, heredoc files): the
/// filesystem is the input <see cref="BaseInput"/>, or an empty one when it is null (<c>FROM scratch</c>).
/// </summary>
public sealed record FileOp(IReadOnlyList<FileAction> Actions) : IOpDefinition
{
    public int? BaseInput { get; init; } = 0;

    public string Kind => "file";

    public void WriteTo(DefinitionWriter writer)
    {
        writer.Field("base", BaseInput).Field("actions", Actions.Count);
        foreach (var action in Actions)
            action.WriteTo(writer);
    }
}

/// <summary>One action of a <see cref="FileOp"/>.</summary>
public abstract record FileAction
{
    internal abstract void WriteTo(DefinitionWriter writer);
}

/// <summary>An owner as the Dockerfile names it (<c>--chown=user:group</c>): names or ids, resolved where it is applied.</summary>
public sealed record FileOwner(string User, string? Group = null);

/// <summary>Copies <see cref="Source"/> (a path or wildcard in input <see cref="SourceInput"/>) to <see cref="Destination"/>.</summary>
public sealed record CopyAction(int SourceInput, string Source, string Destination) : FileAction
{
    public CopyActionOptions Options { get; init; } = new();

    internal override void WriteTo(DefinitionWriter writer)
    {
        writer.Field("copy.input", SourceInput).Field("copy.source", Source).Field("copy.destination", Destination);
        Options.WriteTo(writer);
    }
}

/// <summary>The options of <c>COPY</c>/<c>ADD</c> that change what lands in the filesystem.</summary>
public sealed record CopyActionOptions
{
    public FileOwner? Chown { get; init; }

    /// <summary><c>--chmod</c> as written (octal or symbolic); null keeps the source's mode.</summary>
    public string? Chmod { get; init; }

    /// <summary><c>--link</c>: the files land on an empty layer of their own.</summary>
    public bool Link { get; init; }

    /// <summary><c>--parents</c>: the source's directories are kept under the destination.</summary>
    public bool Parents { get; init; }

    /// <summary><c>--exclude</c> patterns.</summary>
    public IReadOnlyList<string> Exclude { get; init; } = [];

    /// <summary>Follow a symlink named as the source (the link's target is copied).</summary>
    public bool FollowSymlinks { get; init; } = true;

    /// <summary><c>ADD</c>: a local tar archive is unpacked into the destination.</summary>
    public bool AttemptUnpack { get; init; }

    public bool AllowWildcard { get; init; } = true;

    /// <summary>A wildcard that matches nothing is not an error.</summary>
    public bool AllowEmptyWildcard { get; init; }

    /// <summary>Missing directories of the destination are created.</summary>
    public bool CreateDestPath { get; init; } = true;

    internal void WriteTo(DefinitionWriter writer) => writer
        .Field("copy.chown.user", Chown?.User)
        .Field("copy.chown.group", Chown?.Group)
        .Field("copy.chmod", Chmod)
        .Field("copy.link", Link)
        .Field("copy.parents", Parents)
        .Field("copy.exclude", Exclude)
        .Field("copy.follow-symlinks", FollowSymlinks)
        .Field("copy.unpack", AttemptUnpack)
        .Field("copy.allow-wildcard", AllowWildcard)
        .Field("copy.allow-empty-wildcard", AllowEmptyWildcard)
        .Field("copy.create-dest-path", CreateDestPath);
}

/// <summary>Creates a directory (<c>WORKDIR</c>, a COPY destination).</summary>
public sealed record MkdirAction(string Path, uint Mode) : FileAction
{
    public bool MakeParents { get; init; }

    public FileOwner? Owner { get; init; }

    internal override void WriteTo(DefinitionWriter writer) => writer
        .Field("mkdir.path", Path)
        .Field("mkdir.mode", Mode)
        .Field("mkdir.parents", MakeParents)
        .Field("mkdir.owner.user", Owner?.User)
        .Field("mkdir.owner.group", Owner?.Group);
}

/// <summary>Creates a file with the given bytes (a COPY heredoc).</summary>
public sealed record MkfileAction(string Path, uint Mode, ReadOnlyMemory<byte> Data) : FileAction
{
    public FileOwner? Owner { get; init; }

    internal override void WriteTo(DefinitionWriter writer) => writer
        .Field("mkfile.path", Path)
        .Field("mkfile.mode", Mode)
        .Field("mkfile.data", Data.Span)
        .Field("mkfile.owner.user", Owner?.User)
        .Field("mkfile.owner.group", Owner?.Group);
}

/// <summary>Removes a path.</summary>
public sealed record RmAction(string Path) : FileAction
{
    public bool AllowNotFound { get; init; }

    public bool AllowWildcard { get; init; }

    internal override void WriteTo(DefinitionWriter writer) => writer
        .Field("rm.path", Path)
        .Field("rm.allow-not-found", AllowNotFound)
        .Field("rm.allow-wildcard", AllowWildcard);
}
