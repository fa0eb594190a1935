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
/// <param name="Key">Its cache key: the platform manifest's digest, or a named context directory's content digest.</param>
/// <param name="Config">Its config.</param>
/// <param name="Snapshot">The top snapshot of the layer chain (null for an image with no layers).</param>
/// <param name="Layers">Its layers.</param>
internal sealed record BaseImage(string Key, ImageConfig Config, string? Snapshot, IReadOnlyList<LayerRef> Layers)
{
    /// <summary>The image by name and platform manifest (a provenance material); null for a named context directory.</summary>
    public Material? Material { get; init; }
}

/// <summary>
/// FROM/COPY --from images: a locally stored image of that name wins (like img on containerd's store), then the image
/// an earlier build pulled for that name, else it is pulled through the registry client (always with <c>--pull</c>); its layers are applied into snapshots named by chain ID so later builds reuse them.
/// A stored index that lists the platform but does not hold its manifest (a pull of another platform) has it fetched;
/// a stored image without the platform at all is an error.
/// </summary>
internal sealed class BaseImages(LocalStore store, SnapshotWork snapshots, SnapshotterKind backend, Platform defaultPlatform, ProgressSink progress)
{
    private readonly ConcurrentDictionary<string, Lazy<Task<BaseImage>>> _images = new(StringComparer.Ordinal);
    private readonly ResolvedBaseImages _resolved = new(store.StateDir);

    /// <summary><c>--pull</c>: every name is resolved at its registry again; neither a stored image nor an earlier resolution is used.</summary>
    public bool Pull { get; init; }

    /// <summary><c>--build-context</c>: names that mean a directory, another image or an OCI layout instead.</summary>
    public IReadOnlyDictionary<string, NamedContext> NamedContexts { get; init; } = new Dictionary<string, NamedContext>();

    /// <summary>Several platforms are built: an image's metadata step names its platform (<c>[linux/arm64 internal] …</c>).</summary>
    public bool NamesPlatform { get; init; }

    /// <summary>The build's stat cache, for digesting named context directories.</summary>
    public StatCache? Stats { get; init; }

    /// <summary>The build's registry client: pulls, and <c>ADD &lt;url&gt;</c>'s downloads.</summary>
    public required RegistryClient Registry { get; init; }

    /// <summary>The image for the build's platform.</summary>
    public Task<BaseImage> GetAsync(string name, CancellationToken ct) => GetAsync(name, null, ct);

    /// <summary>The image for <paramref name="wanted"/> (<c>FROM --platform</c>), or the build's platform when null.</summary>
    public Task<BaseImage> GetAsync(string name, Platform? wanted, CancellationToken ct)
    {
        var p = wanted ?? defaultPlatform;
        return _images.GetOrAdd(name + "\0" + p, _ => new Lazy<Task<BaseImage>>(() => LoadAsync(name, p, ct))).Value;
    }

    private Task<BaseImage> LoadAsync(string name, Platform platform, CancellationToken ct)
    {
        if (!NamedContexts.TryGetValue(name.ToLowerInvariant(), out var named)) return LoadImageAsync(name, platform, ct);
        return named.Kind switch
        {
            NamedContextKind.Image => LoadImageAsync(named.Location, platform, ct),
            NamedContextKind.OciLayout => LoadLayoutAsync(name, named, platform, ct),
            _ => LoadDirectoryAsync(name, named.Location, platform, ct),
        };
    }

    private async Task<BaseImage> LoadImageAsync(string name, Platform platform, CancellationToken ct)
    {
        if (!Reference.TryParse(name, out var reference, out var error))
            throw new BuildFailedException($"failed to parse stage name \"{name}\": {error}");
        var step = progress.Start(NamesPlatform ? $"[{platform} internal] load metadata for {reference}" : $"[internal] load metadata for {reference}");
        Descriptor target;
        // A stored image of that name, else what an earlier build resolved it to: no registry round trip (docker's
        // behaviour without --pull).
        var stored = Pull ? null : store.Metadata.GetImage(reference!.ToString())?.Target ?? _resolved.Find(reference!, store.Content);
        if (stored is not null)
        {
            target = stored;
            // A pulled index holds the manifests of the platforms pulled so far: fetch this one from where it came.
            if (await ContentWalker.SelectManifestAsync(store.Content, target, platform, ct).ConfigureAwait(false) is null
                && await ListsPlatformAsync(target, platform, ct).ConfigureAwait(false))
                target = await PullAsync(reference!.WithDigest(target.Digest), platform, step, ct).ConfigureAwait(false);
        }
        else
        {
            target = await PullAsync(reference!, platform, step, ct).ConfigureAwait(false);
            await _resolved.RememberAsync(reference!, target, ct).ConfigureAwait(false);
        }
        return await UnpackImageAsync(reference!.ToString(), target, platform, step, ct).ConfigureAwait(false);
    }

    /// <summary>A named context in an OCI layout: its blobs are copied into the store (verified), then it is an image like any other.</summary>
    private async Task<BaseImage> LoadLayoutAsync(string name, NamedContext context, Platform platform, CancellationToken ct)
    {
        var step = progress.Start($"[context {name}] load oci-layout://{context.Location}");
        Descriptor target;
        try { target = await OciLayoutImport.ImportAsync(context.Location, context.Selector, platform, store.Content, ct).ConfigureAwait(false); }
        catch (InvalidDataException e)
        {
            step.Error(e.Message);
            throw new BuildFailedException($"build context {name}: {e.Message}", e);
        }
        return await UnpackImageAsync($"oci-layout://{context.Location}", target, platform, step, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// A named context directory: its files become one layer on an empty root (a snapshot keyed by their digest, kept
    /// as a cache record so an unchanged directory is not copied again).
    /// </summary>
    private async Task<BaseImage> LoadDirectoryAsync(string name, string directory, Platform platform, CancellationToken ct)
    {
        var step = progress.Start($"[context {name}] load from {directory}");
        var files = new BuildContext(directory, Img.Dockerfile.DockerIgnore.Empty, Stats ?? StatCache.Load(Path.Combine(store.StateDir, "build", "context-stats")));
        var digest = await files.DigestAsync([""], ct).ConfigureAwait(false);
        var snapshot = "context/" + digest.Hex;
        var recordKey = "context-" + backend + "-" + digest.Hex;
        LayerRef? layer;
        using (await snapshots.LockAsync(snapshot, ct).ConfigureAwait(false))
        {
            var record = store.Metadata.GetCacheRecord(recordKey);
            var outcome = record is null ? null : BuildCache.Deserialize(record.Result);
            if (outcome is not null && snapshots.Exists(snapshot) && (outcome.Layer is null || store.Content.Exists(Digest.Parse(outcome.Layer))))
            {
                layer = outcome.Layer is null ? null
                    : new LayerRef(new Descriptor { MediaType = outcome.MediaType!, Digest = Digest.Parse(outcome.Layer), Size = outcome.Size }, Digest.Parse(outcome.DiffId!));
                step.Cached();
            }
            else
            {
                if (snapshots.Exists(snapshot)) await snapshots.Snapshotter.RemoveAsync(snapshot, ct).ConfigureAwait(false);
                layer = await snapshots.CommitChangeAsync(null, snapshot, Compression.Gzip, root =>
                    TreeCopy.CopyAsync(directory, root, new TreeCopyOptions { PreserveOwnership = false }, ct), ct).ConfigureAwait(false);
                store.Metadata.PutCacheRecord(new CacheRecord
                {
                    Key = recordKey,
                    Kind = "source.local",
                    Description = "build context " + name,
                    Snapshot = BuildCache.SnapshotRef(backend, snapshot),
                    Result = BuildCache.Serialize(new StepOutcome
                    {
                        Layer = layer?.Blob.Digest.ToString(), MediaType = layer?.Blob.MediaType, Size = layer?.Blob.Size ?? 0, DiffId = layer?.DiffId.ToString(),
                    }),
                    Size = layer?.Blob.Size ?? 0,
                    Blobs = layer is null ? [] : [layer.Blob.Digest],
                });
                step.Done();
            }
        }
        var config = new ImageConfig
        {
            OS = platform.OS, Architecture = platform.Architecture, Variant = platform.Variant,
            Config = new ContainerConfig { Env = [.. Img.Dockerfile.ImageConfigRules.DefaultEnv(platform.OS)] },
            RootFs = new RootFs(),
        };
        return new BaseImage(BuildCache.Key("context", digest.ToString()), config, snapshot, layer is null ? [] : [layer]);
    }

    /// <summary>Selects <paramref name="platform"/> in <paramref name="target"/> (stored) and unpacks its layers into snapshots.</summary>
    private async Task<BaseImage> UnpackImageAsync(string reference, Descriptor target, Platform platform, StepReporter step, CancellationToken ct)
    {
        var manifestDesc = await ContentWalker.SelectManifestAsync(store.Content, target, platform, ct).ConfigureAwait(false);
        if (manifestDesc is null)
        {
            step.Error("no match for platform");
            throw new BuildFailedException($"{reference}: no match for platform {platform} in manifest {target.Digest}: not found");
        }
        var material = new Material(reference, manifestDesc.Digest);
        var manifest = await ContentWalker.ReadManifestAsync(store.Content, manifestDesc, ct).ConfigureAwait(false);
        var config = await ContentWalker.ReadConfigAsync(store.Content, manifest.Config, ct).ConfigureAwait(false);
        // A lone manifest says its platform only in its config (containerd matches it there too).
        if (MediaTypes.IsManifest(target.MediaType) && config.Architecture.Length > 0 && !platform.Matches(config.Platform))
        {
            step.Error("no match for platform");
            throw new BuildFailedException($"{reference}: no match for platform {platform} in manifest {target.Digest}: not found");
        }
        if (config.RootFs.DiffIds.Count != manifest.Layers.Count)
            throw new BuildFailedException($"{reference}: config has {config.RootFs.DiffIds.Count} diff_ids for {manifest.Layers.Count} layers");
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
        return new BaseImage(BuildCache.Key("image", manifestDesc.Digest.ToString()), config, parent, layers) { Material = material };
    }

    private async Task<Descriptor> PullAsync(Reference reference, Platform platform, StepReporter step, CancellationToken ct)
    {
        try
        {
            var pulled = await Registry.PullAsync(reference, platform, store.Content, null, ct).ConfigureAwait(false);
            return pulled.Target;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            step.Error(e.Message);
            throw new BuildFailedException($"{reference}: {e.Message}", e);
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
            if (upper is not null && snapshots.Snapshotter.Kind == SnapshotterKind.Overlay)
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
                applied = await LayerApplier.ApplyBlobAsync(store.Content, blob, snapshots.Snapshotter.FsDir(active), new ApplyOptions { RecordOwners = Img.Runtime.Namespaces.Isolation.Current.RecordsOwners }, ct).ConfigureAwait(false);
            }
            if (applied.DiffId != layer.DiffId)
                throw new BuildFailedException($"layer {layer.Blob.Digest}: diff id {applied.DiffId} does not match the config's {layer.DiffId}");
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
        var root = snapshots.Snapshotter.Attach(active, dir);
        try { return await LayerApplier.ApplyBlobAsync(store.Content, blob, root, new ApplyOptions { RecordOwners = Img.Runtime.Namespaces.Isolation.Current.RecordsOwners }, ct).ConfigureAwait(false); }
        finally
        {
            snapshots.Snapshotter.Detach(root);
            try { Directory.Delete(dir); } catch (IOException) { }
        }
    }
}
