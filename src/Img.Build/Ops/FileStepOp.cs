using Img.Build.Graph;
using Img.Runtime.Oci;

namespace Img.Build;

/// <summary>
/// Runs a <see cref="FileOp"/> (COPY, ADD, WORKDIR, heredoc files): its actions in order in a writable snapshot on its
/// base input (an empty one when it has none), committed as the step's layer. A file op with no actions is the empty
/// filesystem itself.
/// </summary>
internal sealed class FileStepOp(BuildEnv env, Vertex vertex) : IOp
{
    private const uint DefaultFileMode = 0b110_100_100;

    private FileOp File => (FileOp)vertex.Definition;

    public ValueTask<CacheMap> CacheMapAsync(CancellationToken ct) => ValueTask.FromResult(DefinitionCacheMaps.Of(vertex, env.ContentDigestAsync));

    public async Task<IResult> ExecAsync(IReadOnlyList<IResult> inputs, CancellationToken ct)
    {
        var file = File;
        var root = file.BaseInput is { } b ? (SnapshotResult)inputs[b] : SnapshotResult.Empty;
        if (file.Actions.Count == 0) return root;
        var reporter = env.Steps.For(vertex);
        return await env.CommitStepAsync(root, rootfs => ApplyAsync(file, inputs, rootfs, reporter, ct), ct).ConfigureAwait(false);
    }

    private async Task ApplyAsync(FileOp file, IReadOnlyList<IResult> inputs, string rootfs, StepReporter? reporter, CancellationToken ct)
    {
        // WORKDIR's directory belongs to the stage's user as the user resolves (root when unknown); a COPY's
        // directories to its --chown.
        var workdir = file.Actions.All(a => a is MkdirAction);
        foreach (var action in file.Actions)
        {
            switch (action)
            {
                case CopyAction copy:
                    await new CopyWriter(env, copy, inputs[copy.SourceInput], reporter).WriteAsync(rootfs, ct).ConfigureAwait(false);
                    break;
                case MkdirAction mkdir:
                    FileCopier.MakeDirectories(rootfs, mkdir.Path, workdir ? UserOwner(rootfs, mkdir.Owner) : ChownOwner(rootfs, mkdir.Owner));
                    break;
                case MkfileAction mkfile:
                    await WriteFileAsync(rootfs, mkfile, ct).ConfigureAwait(false);
                    break;
                case RmAction rm:
                    Remove(rootfs, rm);
                    break;
            }
        }
    }

    private static (uint, uint)? ChownOwner(string rootfs, FileOwner? owner) =>
        owner is null ? null : ChownSpec.Resolve(rootfs, CopyWriter.FileOwnerText(owner));

    private static (uint, uint)? UserOwner(string rootfs, FileOwner? owner)
    {
        if (owner is null) return null;
        try
        {
            var user = ExecUser.Resolve(rootfs, CopyWriter.FileOwnerText(owner));
            return (user.Uid, user.Gid);
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>A heredoc's file: replaces what is there (a directory stays and fails the write), mode and owner set.</summary>
    private static async Task WriteFileAsync(string rootfs, MkfileAction mkfile, CancellationToken ct)
    {
        var owner = ChownOwner(rootfs, mkfile.Owner);
        var parent = Path.GetDirectoryName(mkfile.Path)?.Replace('\\', '/') is { Length: > 0 } p ? p : "/";
        var dest = Path.Combine(FileCopier.MakeDirectories(rootfs, parent, owner), Path.GetFileName(mkfile.Path));
        if (Posix.TryLstat(dest) is { IsDirectory: false }) System.IO.File.Delete(dest);
        await System.IO.File.WriteAllBytesAsync(dest, mkfile.Data, ct).ConfigureAwait(false);
        System.IO.File.SetUnixFileMode(dest, (UnixFileMode)(mkfile.Mode == 0 ? DefaultFileMode : mkfile.Mode));
        var (u, g) = owner ?? (0, 0);
        Posix.Lchown(dest, u, g);
    }

    private static void Remove(string rootfs, RmAction rm)
    {
        var path = RootPath.Resolve(rootfs, StepPaths.Clean(rm.Path), followFinal: false);
        switch (Posix.TryLstat(path))
        {
            case null when rm.AllowNotFound: return;
            case null: throw new BuildFailedException($"rm {rm.Path}: no such file or directory");
            case { IsDirectory: true }: Img.Fs.FileTree.RemoveTree(path); break;
            default: System.IO.File.Delete(path); break;
        }
    }
}
