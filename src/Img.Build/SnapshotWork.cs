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

    public bool Exists(string? key) => key is null || snapshotter.Stat(key) is not null;

    /// <summary>Serialises work on one key within this process (parallel stages doing the same step).</summary>
    public async Task<IDisposable> LockAsync(string key, CancellationToken ct)
    {
        var sem = _locks.GetOrAdd(key, _ => new SemaphoreSlim(1, 1));
        await sem.WaitAsync(ct).ConfigureAwait(false);
        return new Releaser(sem);
    }

    private sealed class Releaser(SemaphoreSlim sem) : IDisposable
    {
        public void Dispose() => sem.Release();
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
            finally { Directory.Delete(dir, true); }
        }
        var key = "view/" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        await snapshotter.ViewAsync(key, parent, ct).ConfigureAwait(false);
        try
        {
            snapshotter.Mount(key, dir);
            try { return await use(dir).ConfigureAwait(false); }
            finally { snapshotter.Unmount(dir); }
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
        var active = NewActiveKey();
        await snapshotter.PrepareAsync(active, parent, ct).ConfigureAwait(false);
        try
        {
            var dir = NewMountDir();
            try
            {
                snapshotter.Mount(active, dir);
                try { await mutate(dir).ConfigureAwait(false); }
                finally { snapshotter.Unmount(dir); }
            }
            finally
            {
                try { Directory.Delete(dir, false); } catch (IOException) { }
            }
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

    private async Task<LayerRef?> WriteDiffAsync(string active, string? parent, Compression compression, CancellationToken ct)
    {
        var writer = content.CreateWriter();
        await using (writer.ConfigureAwait(false))
        {
            LayerWriteResult result;
            var upper = snapshotter.UpperDir(active);
            if (upper is not null)
                result = await LayerWriter.WriteOverlayUpperAsync(upper, writer, compression, null, ct).ConfigureAwait(false);
            else if (parent is null)
                result = await LayerWriter.WriteTreeAsync(snapshotter.FsDir(active), writer, compression, null, ct).ConfigureAwait(false);
            else
                result = await LayerWriter.WriteTreeDiffAsync(snapshotter.FsDir(parent), snapshotter.FsDir(active), writer, compression, null, ct).ConfigureAwait(false);
            // Two zero blocks and nothing else: the step changed no file.
            if (result.UncompressedSize <= 1024) return null;
            await writer.CommitAsync(result.Digest, result.Size, ct).ConfigureAwait(false);
            return new LayerRef(result.ToDescriptor(oci: false), result.DiffId);
        }
    }
}
