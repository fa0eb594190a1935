using System.Text;
using Img.Dockerfile;

namespace Img.Build.Graph.Convert;

/// <summary>COPY and ADD as one request, expanded.</summary>
internal sealed record CopyStep(string Verb, SourcesAndDest Files, string? From, string? Chown, string? Chmod, bool Link, bool Parents,
    IReadOnlyList<string> Excludes, bool? Unpack, string? Checksum)
{
    public bool IsAdd => Verb == "ADD";

    public static CopyStep Of(CopyInstruction copy) =>
        new("COPY", copy.Files, copy.From, copy.Chown, copy.Chmod, copy.Link, copy.Parents, copy.Excludes, false, null);

    public static CopyStep Of(AddInstruction add) =>
        new("ADD", add.Files, null, add.Chown, add.Chmod, add.Link, false, add.Excludes, add.Unpack, add.Checksum);
}

/// <summary>
/// Assembles the file op of a COPY or ADD (BuildKit's <c>dispatchCopy</c>): a copy action per source from the context,
/// another stage, an image or a URL, and a file per heredoc, onto the stage's filesystem.
/// </summary>
internal static class CopyConverter
{
    private const uint HeredocMode = 0b110_100_100;

    public static StepOp Convert(CopyStep copy, StepContext step)
    {
        var dest = copy.Files.Dest;
        var destIsDir = dest.Length == 0 || dest.EndsWith('/') || dest == "." || dest.EndsWith("/.", StringComparison.Ordinal);
        var destPath = Paths.Resolve(dest, step.Config.Cwd);
        if (copy.Files.SourcePaths.Count + copy.Files.SourceContents.Count > 1 && !destIsDir)
            throw new DockerfileException($"When using {copy.Verb} with more than one source file, the destination must be a directory and end with a /", step.Line);
        var destination = destIsDir && destPath != "/" ? destPath + "/" : destPath;
        var inputs = new InputList();
        if (step.Root is not null) inputs.Add(step.Root);
        var options = new CopyActionOptions
        {
            Chown = FileOwners.Parse(copy.Chown),
            Chmod = copy.Chmod,
            Link = copy.Link,
            Parents = copy.Parents,
            Exclude = copy.Excludes,
            AttemptUnpack = copy.IsAdd && copy.Unpack != false,
            // As docker: a wildcard that matches nothing copies nothing; a missing plain path is an error.
            AllowEmptyWildcard = true,
        };
        var actions = new List<FileAction>();
        foreach (var source in copy.Files.SourcePaths)
            actions.Add(Action(copy, source, destination, options, inputs, step));
        foreach (var content in copy.Files.SourceContents)
            actions.AddRange(Heredoc(copy, content, destIsDir ? destPath.TrimEnd('/') + "/" + content.Path : destPath, step));
        return new StepOp(new FileOp(actions) { BaseInput = step.Root is null ? null : 0 }, inputs.Vertices);
    }

    private static CopyAction Action(CopyStep copy, string source, string destination, CopyActionOptions options, InputList inputs, StepContext step)
    {
        if (copy.IsAdd && IsUrl(source))
        {
            var url = new HttpSource(source, UrlFilename(source)) { Checksum = copy.Checksum };
            var fetched = inputs.Add(new Vertex($"[{step.Stage.Stage.DisplayName}] {copy.Verb} {source}", url, ignoreCache: step.Options.NoCache));
            // A fetched file is never unpacked, as docker's ADD.
            return new CopyAction(fetched, "/" + url.Filename, destination) { Options = options with { AttemptUnpack = false } };
        }
        if (copy.Checksum is not null)
            throw new DockerfileException("checksum can't be specified for non-HTTP(S) sources", step.Line);
        var from = copy.From is null ? step.Conversion.Sources.Context : step.Conversion.From(copy.From, step.Stage, step.Line).Vertex;
        return new CopyAction(inputs.Add(from), source, destination) { Options = options };
    }

    /// <summary>A heredoc's file, and first its missing directories (owned as the file), as the copier makes a destination's.</summary>
    private static IEnumerable<FileAction> Heredoc(CopyStep copy, SourceContent content, string path, StepContext step)
    {
        var owner = FileOwners.Parse(copy.Chown);
        var parent = path[..path.LastIndexOf('/')];
        if (parent.Length > 0)
            yield return new MkdirAction(parent, 0b111_101_101) { MakeParents = true, Owner = owner };
        var data = content.Expand ? step.Scope.ExpandHeredoc(content.Data) : content.Data;
        var mode = copy.Chmod is null ? HeredocMode : ChmodSpec.Parse(copy.Chmod).Apply(HeredocMode, false);
        yield return new MkfileAction(path, mode, Encoding.UTF8.GetBytes(data)) { Owner = owner };
    }

    private static bool IsUrl(string source) =>
        source.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || source.StartsWith("https://", StringComparison.OrdinalIgnoreCase);

    /// <summary>The name a fetched file gets: the URL path's last part, else <c>index.html</c>, as BuildKit's http source.</summary>
    private static string UrlFilename(string url)
    {
        var name = Uri.TryCreate(url, UriKind.Absolute, out var uri) ? Path.GetFileName(uri.AbsolutePath) : "";
        return name.Length == 0 ? "index.html" : name;
    }
}
