using System.Collections.Concurrent;
using System.Security.Cryptography;
using Img.Archive.Layers;
using Img.Content;
using Img.Oci;
using Img.Runtime.Snapshots;

namespace Img.Build;

/// <summary>A layer of an image being built: the stored blob and its uncompressed digest.</summary>
public sealed record LayerRef(Descriptor Blob, Digest DiffId);

/// <summary>Snapshot chores of a build: writable snapshots mounted on scratch dirs, diffs turned into layer blobs.</summary>
internal sealed class SnapshotWork(ISnapshotter snapshotter, ContentStore content, string stateDir)
{
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _locks = new(StringComparer.Ordinal);

    public ISnapshotter Snapshotter => snapshotter;

    /// <summary>How new layers are written (SOURCE_DATE_EPOCH clamps their file times).</summary>
    public WriteOptions? LayerOptions { get; init; }

    /// <summary>
    /// Whether the snapshot can be used: it and every parent below it are there. One whose parent went missing
    /// (deleted by hand, a damaged disk) would only fail later, when a step is prepared on it.
    /// </summary>
    public bool Exists(string? key)
    {
        for (var k = key; k is not null;)
        {
            if (snapshotter.Stat(k) is not { } info) return false;
            k = info.Parent;
        }
        return true;
    }

    /// <summary>
    /// Serialises work on one key: within this process (parallel stages doing the same step) and across
    /// img processes on the same state dir (two builds from one base unpack the same layer snapshot;
    /// without it the second fails with "snapshot … already exists" when the first commits).
    /// </summary>
    public async Task<IDisposable> LockAsync(string key, CancellationToken ct)
    {
        var sem = _locks.GetOrAdd(key, _ => new SemaphoreSlim(1, 1));
        await sem.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            return new Releaser(sem, await LockFileAsync(key, ct).ConfigureAwait(false));
        }
        catch
        {
            sem.Release();
            throw;
        }
    }

    // .NET takes flock(LOCK_EX|LOCK_NB) for FileShare.None; the kernel drops it when a holder dies.
    private async Task<FileStream> LockFileAsync(string key, CancellationToken ct)
    {
        var dir = Path.Combine(stateDir, "snapshot-locks");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, key.Replace('/', '-') + ".lock");
        while (true)
        {
            try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException) when (File.Exists(path)) { await Task.Delay(50, ct).ConfigureAwait(false); }
        }
    }

    private sealed class Releaser(SemaphoreSlim sem, FileStream file) : IDisposable
    {
        public void Dispose()
        {
            file.Dispose();
            sem.Release();
        }
    }

    public string NewMountDir()
    {
        var dir = Path.Combine(stateDir, "build-mounts", Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)));
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static string NewActiveKey() => "active/" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    /// <summary>Mounts committed snapshot <paramref name="parent"/> read-only for the duration of <paramref name="use"/> (an empty dir when null).</summary>
    public async Task<T> WithViewAsync<T>(string? parent, Func<string, Task<T>> use, CancellationToken ct)
    {
        var dir = NewMountDir();
        if (parent is null)
        {
            try { return await use(dir).ConfigureAwait(false); }
            finally { Img.Fs.FileTree.RemoveTree(dir); }
        }
        var key = "view/" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        await snapshotter.ViewAsync(key, parent, ct).ConfigureAwait(false);
        try
        {
            var root = snapshotter.Attach(key, dir);
            try { return await use(root).ConfigureAwait(false); }
            finally { snapshotter.Detach(root); }
        }
        finally
        {
            await snapshotter.RemoveAsync(key, CancellationToken.None).ConfigureAwait(false);
            try { Directory.Delete(dir, false); } catch (IOException) { }
        }
    }

    /// <summary>
    /// Prepares a writable snapshot over <paramref name="parent"/>, mounts it, lets <paramref name="mutate"/> change it,
    /// writes the change as a layer blob and commits the snapshot as <paramref name="name"/>. An empty change gives no blob.
    /// </summary>
    public async Task<LayerRef?> CommitChangeAsync(string? parent, string name, Compression compression, Func<string, Task> mutate, CancellationToken ct)
    {
        try
        {
            return await CommitChangeOnSnapshotAsync(parent, name, compression, mutate, ct).ConfigureAwait(false);
        }
        catch (LowerRenameFailedException) when (!snapshotter.RenamesLowerDirectories)
        {
            return await CommitChangeOnCopyAsync(parent, name, compression, mutate, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Kernel overlayfs in a user namespace has no redirect_dir, so rename(2) of a directory that only exists in a
    /// lower layer fails with EXDEV; mv copies instead, but programs calling rename(2) fail. Such a step runs again
    /// on a plain copy of the parent's merged tree (where every rename works), its change is taken by comparing the
    /// two trees and applied to a fresh overlay upper, so only that step pays for a copy and later steps stay on
    /// overlayfs. Retrying after the failure keeps the common case (apt, dpkg, most builds) at overlay speed.
    /// </summary>
    private Task<LayerRef?> CommitChangeOnCopyAsync(string? parent, string name, Compression compression, Func<string, Task> mutate, CancellationToken ct) =>
        WithViewAsync(parent, async lower =>
        {
            var copy = NewMountDir();
            try
            {
                await TreeCopier.CopyAsync(lower, copy, ct).ConfigureAwait(false);
                // On the copy EXDEV is not the snapshot's doing: the step failed.
                try { await mutate(copy).ConfigureAwait(false); }
                catch (LowerRenameFailedException e) { throw new BuildFailedException(e.Message, e); }
                var layer = await WriteLayerAsync((writer, c) => LayerWriter.WriteTreeDiffAsync(lower, copy, writer, compression, LayerOptions, c), ct).ConfigureAwait(false);
                var active = NewActiveKey();
                await snapshotter.PrepareAsync(active, parent, ct).ConfigureAwait(false);
                try
                {
                    if (layer is not null) await ApplyMountedAsync(active, layer, ct).ConfigureAwait(false);
                    await CommitAsync(active, name, ct).ConfigureAwait(false);
                    active = null!;
                }
                finally
                {
                    if (active is not null && snapshotter.Stat(active) is not null)
                        await snapshotter.RemoveAsync(active, CancellationToken.None).ConfigureAwait(false);
                }
                return layer;
            }
            finally
            {
                // Root of the namespace owns or may enter every directory of the copy.
                try { Img.Fs.FileTree.RemoveTree(copy); }
                catch (IOException) { }
                catch (UnauthorizedAccessException) { }
            }
        }, ct);

    private async Task ApplyMountedAsync(string active, LayerRef layer, CancellationToken ct)
    {
        var dir = NewMountDir();
        try
        {
            var root = snapshotter.Attach(active, dir);
            try { await LayerApplier.ApplyBlobAsync(content, layer.Blob.Digest, root, new ApplyOptions { RecordOwners = Img.Runtime.Namespaces.Isolation.Current.RecordsOwners }, ct).ConfigureAwait(false); }
            finally { snapshotter.Detach(root); }
        }
        finally
        {
            try { Directory.Delete(dir, false); } catch (IOException) { }
        }
    }

    private async Task<LayerRef?> CommitChangeOnSnapshotAsync(string? parent, string name, Compression compression, Func<string, Task> mutate, CancellationToken ct)
    {
        var active = NewActiveKey();
        await snapshotter.PrepareAsync(active, parent, ct).ConfigureAwait(false);
        try
        {
            var dir = NewMountDir();
            try
            {
                var root = snapshotter.Attach(active, dir);
                try { await mutate(root).ConfigureAwait(false); }
                finally { snapshotter.Detach(root); }
            }
            finally
            {
                try { Directory.Delete(dir, false); } catch (IOException) { }
            }
            if (snapshotter.Kind == SnapshotterKind.Overlay && snapshotter.UpperDir(active) is { } upper) CopiedUpDirectories.Prune(upper, LowerDirs(parent));
            var layer = await WriteDiffAsync(active, parent, compression, ct).ConfigureAwait(false);
            await CommitAsync(active, name, ct).ConfigureAwait(false);
            active = null!;
            return layer;
        }
        finally
        {
            if (active is not null && snapshotter.Stat(active) is not null)
                await snapshotter.RemoveAsync(active, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private List<string> LowerDirs(string? parent)
    {
        var dirs = new List<string>();
        for (var p = parent; p is not null; p = snapshotter.Stat(p)?.Parent) dirs.Add(snapshotter.FsDir(p));
        return dirs;
    }

    /// <summary>Commits <paramref name="active"/> as <paramref name="name"/>; when another build committed it first, drops ours.</summary>
    public async Task CommitAsync(string active, string name, CancellationToken ct)
    {
        if (snapshotter.Stat(name) is not null)
        {
            await snapshotter.RemoveAsync(active, ct).ConfigureAwait(false);
            return;
        }
        await snapshotter.CommitAsync(name, active, ct).ConfigureAwait(false);
    }

    private Task<LayerRef?> WriteDiffAsync(string active, string? parent, Compression compression, CancellationToken ct) =>
        WriteLayerAsync((writer, c) =>
        {
            var upper = snapshotter.UpperDir(active);
            if (upper is not null) return LayerWriter.WriteOverlayUpperAsync(upper, writer, compression, LayerOptions, c);
            if (parent is null) return LayerWriter.WriteTreeAsync(snapshotter.FsDir(active), writer, compression, LayerOptions, c);
            return LayerWriter.WriteTreeDiffAsync(snapshotter.FsDir(parent), snapshotter.FsDir(active), writer, compression, LayerOptions, c);
        }, ct);

    private async Task<LayerRef?> WriteLayerAsync(Func<Stream, CancellationToken, Task<LayerWriteResult>> write, CancellationToken ct)
    {
        var writer = content.CreateWriter();
        await using (writer.ConfigureAwait(false))
        {
            var result = await write(writer, ct).ConfigureAwait(false);
            // Two zero blocks and nothing else: the step changed no file.
            if (result.UncompressedSize <= 1024) return null;
            await writer.CommitAsync(result.Digest, result.Size, ct).ConfigureAwait(false);
            return new LayerRef(result.ToDescriptor(oci: false), result.DiffId);
        }
    }
}
