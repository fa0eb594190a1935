using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Img.Archive.Layers;
using Img.Content;
using Img.Oci;
using Img.Registry;
using Img.Runtime.Snapshots;

namespace Img.Build;

/// <summary>An image a stage starts from (or copies from): its layers unpacked into a chain of snapshots.</summary>
/// <param name="Reference">The normalised name.</param>
/// <param name="Manifest">The platform manifest.</param>
/// <param name="Config">Its config.</param>
/// <param name="Snapshot">The top snapshot of the layer chain (null for an image with no layers).</param>
/// <param name="Layers">Its layers.</param>
internal sealed record BaseImage(Reference Reference, Descriptor Manifest, ImageConfig Config, string? Snapshot, IReadOnlyList<LayerRef> Layers);

/// <summary>
/// FROM/COPY --from images: a locally stored image of that name wins (like img on containerd's store), else it is
/// pulled through the registry client; its layers are applied into snapshots named by chain ID so later builds reuse them.
/// A stored index that lists the platform but does not hold its manifest (a pull of another platform) has it fetched;
/// a stored image without the platform at all is an error.
/// </summary>
internal sealed class BaseImages(LocalStore store, SnapshotWork snapshots, string backend, Platform defaultPlatform, ProgressSink progress)
{
    private readonly ConcurrentDictionary<string, Lazy<Task<BaseImage>>> _images = new(StringComparer.Ordinal);
    private RegistryClient? _registry;

    /// <summary>Timeouts, low-speed rule and ceilings of transfers (a pull's, and an ADD download's).</summary>
    public RegistryOptions TransferOptions => (_registry ??= new RegistryClient(RegistryOptions.FromEnvironment())).Options;

    /// <summary>The image for the build's platform.</summary>
    public Task<BaseImage> GetAsync(string name, CancellationToken ct) => GetAsync(name, null, ct);

    /// <summary>The image for <paramref name="wanted"/> (<c>FROM --platform</c>), or the build's platform when null.</summary>
    public Task<BaseImage> GetAsync(string name, Platform? wanted, CancellationToken ct)
    {
        var p = wanted ?? defaultPlatform;
        return _images.GetOrAdd(name + "\0" + p, _ => new Lazy<Task<BaseImage>>(() => LoadAsync(name, p, ct))).Value;
    }

    private async Task<BaseImage> LoadAsync(string name, Platform platform, CancellationToken ct)
    {
        if (!Reference.TryParse(name, out var reference, out var error))
            throw new BuildFailedException($"failed to solve: failed to parse stage name \"{name}\": {error}");
        var step = progress.Start($"[internal] load metadata for {reference}");
        Descriptor target;
        var record = store.Metadata.GetImage(reference!.ToString());
        if (record is not null)
        {
            target = record.Target;
            // A pulled index holds the manifests of the platforms pulled so far: fetch this one from where it came.
            if (await ContentWalker.SelectManifestAsync(store.Content, target, platform, ct).ConfigureAwait(false) is null
                && await ListsPlatformAsync(target, platform, ct).ConfigureAwait(false))
                target = await PullAsync(reference.WithDigest(target.Digest), platform, step, ct).ConfigureAwait(false);
        }
        else
        {
            target = await PullAsync(reference, platform, step, ct).ConfigureAwait(false);
        }
        var manifestDesc = await ContentWalker.SelectManifestAsync(store.Content, target, platform, ct).ConfigureAwait(false);
        if (manifestDesc is null)
        {
            step.Error("no match for platform");
            throw new BuildFailedException($"failed to solve: {reference}: no match for platform {platform} in manifest {target.Digest}: not found");
        }
        var manifest = await ContentWalker.ReadManifestAsync(store.Content, manifestDesc, ct).ConfigureAwait(false);
        var config = await ContentWalker.ReadConfigAsync(store.Content, manifest.Config, ct).ConfigureAwait(false);
        // A lone manifest says its platform only in its config (containerd matches it there too).
        if (MediaTypes.IsManifest(target.MediaType) && config.Architecture.Length > 0 && !platform.Matches(config.Platform))
        {
            step.Error("no match for platform");
            throw new BuildFailedException($"failed to solve: {reference}: no match for platform {platform} in manifest {target.Digest}: not found");
        }
        if (config.RootFs.DiffIds.Count != manifest.Layers.Count)
            throw new BuildFailedException($"failed to solve: {reference}: config has {config.RootFs.DiffIds.Count} diff_ids for {manifest.Layers.Count} layers");
        step.Done();

        var layers = manifest.Layers.Zip(config.RootFs.DiffIds, (l, d) => new LayerRef(l, d)).ToList();
        string? parent = null;
        string? chain = null;
        foreach (var layer in layers)
        {
            chain = chain is null ? layer.DiffId.Hex : Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes($"sha256:{chain} {layer.DiffId}")));
            var name2 = "layer/" + chain;
            using (await snapshots.LockAsync(name2, ct).ConfigureAwait(false))
            {
                if (snapshots.Snapshotter.Stat(name2) is null)
                    await UnpackAsync(layer, parent, name2, ct).ConfigureAwait(false);
            }
            store.Metadata.PutCacheRecord(new CacheRecord
            {
                Key = "layer-" + backend + "-" + chain,
                Kind = BuildCache.LayerKind,
                Description = "pulled from " + reference,
                Parent = parent is null ? null : "layer-" + backend + "-" + parent["layer/".Length..],
                Snapshot = BuildCache.SnapshotRef(backend, name2),
                Result = "{}",
                Size = layer.Blob.Size,
                Blobs = [manifestDesc.Digest, manifest.Config.Digest, layer.Blob.Digest],
            });
            parent = name2;
        }
        return new BaseImage(reference, manifestDesc, config, parent, layers);
    }

    private async Task<Descriptor> PullAsync(Reference reference, Platform platform, StepReporter step, CancellationToken ct)
    {
        try
        {
            _registry ??= new RegistryClient(RegistryOptions.FromEnvironment());
            var pulled = await _registry.PullAsync(reference, platform, store.Content, null, ct).ConfigureAwait(false);
            return pulled.Target;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            step.Error(e.Message);
            throw new BuildFailedException($"failed to solve: {reference}: {e.Message}", e);
        }
    }

    /// <summary>Whether <paramref name="target"/> is an index with an entry for <paramref name="platform"/> (stored or not).</summary>
    private async Task<bool> ListsPlatformAsync(Descriptor target, Platform platform, CancellationToken ct)
    {
        if (!MediaTypes.IsIndex(target.MediaType)) return false;
        var children = await ContentWalker.ChildrenAsync(store.Content, target, ct).ConfigureAwait(false);
        return children.Any(c => platform.Matches(c.Platform) && !store.Content.Exists(c.Digest));
    }

    /// <summary>Applies <paramref name="layer"/> (stored) onto <paramref name="parent"/> as committed snapshot <paramref name="name"/>, checking its diff ID.</summary>
    internal async Task UnpackAsync(LayerRef layer, string? parent, string name, CancellationToken ct)
    {
        var blob = layer.Blob.Digest;
        var active = SnapshotWork.NewActiveKey();
        await snapshots.Snapshotter.PrepareAsync(active, parent, ct).ConfigureAwait(false);
        try
        {
            ApplyResult applied;
            var upper = snapshots.Snapshotter.UpperDir(active);
            if (upper is not null && snapshots.Snapshotter.Name == "overlayfs")
            {
                try
                {
                    applied = await LayerApplier.ApplyBlobAsync(store.Content, blob, upper, new ApplyOptions { Mode = ApplyMode.OverlayUpper }, ct).ConfigureAwait(false);
                }
                catch (OverlayWhiteoutException)
                {
                    await snapshots.Snapshotter.RemoveAsync(active, ct).ConfigureAwait(false);
                    await snapshots.Snapshotter.PrepareAsync(active, parent, ct).ConfigureAwait(false);
                    applied = await ApplyMountedAsync(active, blob, ct).ConfigureAwait(false);
                }
            }
            else if (upper is not null)
            {
                applied = await ApplyMountedAsync(active, blob, ct).ConfigureAwait(false);
            }
            else
            {
                applied = await LayerApplier.ApplyBlobAsync(store.Content, blob, snapshots.Snapshotter.FsDir(active), new ApplyOptions(), ct).ConfigureAwait(false);
            }
            if (applied.DiffId != layer.DiffId)
                throw new BuildFailedException($"failed to solve: layer {layer.Blob.Digest}: diff id {applied.DiffId} does not match the config's {layer.DiffId}");
            await snapshots.CommitAsync(active, name, ct).ConfigureAwait(false);
            active = null!;
        }
        finally
        {
            if (active is not null && snapshots.Snapshotter.Stat(active) is not null)
                await snapshots.Snapshotter.RemoveAsync(active, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private async Task<ApplyResult> ApplyMountedAsync(string active, Digest blob, CancellationToken ct)
    {
        var dir = snapshots.NewMountDir();
        snapshots.Snapshotter.Mount(active, dir);
        try { return await LayerApplier.ApplyBlobAsync(store.Content, blob, dir, new ApplyOptions(), ct).ConfigureAwait(false); }
        finally
        {
            snapshots.Snapshotter.Unmount(dir);
            try { Directory.Delete(dir); } catch (IOException) { }
        }
    }
}
