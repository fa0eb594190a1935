using Img.Oci;

namespace Img.Content;

/// <summary>
/// The local image store in a state directory: <c>content/</c> (blobs), <c>metadata.db</c>
/// (images, cache records) and the lock that keeps garbage collection away from work in flight.
/// </summary>
public sealed class LocalStore : IDisposable
{
    private readonly Lazy<MetadataStore> _metadata;
    private StateLock? _sharedLock;

    private LocalStore(string stateDir)
    {
        StateDir = stateDir;
        Content = new ContentStore(Path.Combine(stateDir, "content"));
        _metadata = new Lazy<MetadataStore>(() => OpenMetadata(Path.Combine(stateDir, "metadata.db")));
    }

    /// <summary>
    /// Opens the database, checking its pages first (damage would otherwise go unnoticed until a query reads the
    /// page): a damaged one is an error naming the file and the command that rebuilds it.
    /// </summary>
    private static MetadataStore OpenMetadata(string path)
    {
        try
        {
            var metadata = new MetadataStore(path);
            if (metadata.FindDamage() is not { } damage) return metadata;
            metadata.Dispose();
            throw new StateDirectoryException(MetadataRecovery.DamagedMessage(path, damage));
        }
        catch (Microsoft.Data.Sqlite.SqliteException e) when (MetadataRecovery.IsDamage(e))
        {
            throw new StateDirectoryException(MetadataRecovery.DamagedMessage(path, e.Message));
        }
    }

    public string StateDir { get; }
    public ContentStore Content { get; }
    public MetadataStore Metadata => _metadata.Value;
    private string LockPath => Path.Combine(StateDir, "gc.lock");

    /// <summary>Opens (creating on demand, mode 0700) the store; holds the shared lock until disposed.</summary>
    public static LocalStore Open(string stateDir)
    {
        try
        {
            Directory.CreateDirectory(stateDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var probe = Path.Combine(stateDir, $".probe-{Environment.ProcessId}");
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (UnauthorizedAccessException)
        {
            throw new StateDirectoryException($"state directory {stateDir} is not writable");
        }
        catch (IOException e) when (!SpaceReserve.IsDiskFull(e))
        {
            // A full disk is no reason to refuse: ls, rm and prune must still work to free it.
            throw new StateDirectoryException($"state directory {stateDir} is not usable: {e.Message}");
        }
        SpaceReserve.Balance(stateDir);
        var store = new LocalStore(stateDir);
        store._sharedLock = StateLock.Shared(store.LockPath);
        store.Content.CleanIngest();
        PendingOutputs.Reclaim(stateDir);
        return store;
    }

    /// <summary>Total stored size of an image for a platform: manifest, config and layers (as <c>ls</c> shows).</summary>
    public async Task<long> ImageSizeAsync(Descriptor target, Platform platform, CancellationToken ct = default)
    {
        var manifestDesc = await ContentWalker.SelectManifestAsync(Content, target, platform, ct).ConfigureAwait(false);
        if (manifestDesc is null) return Content.SizeOf(target.Digest) ?? 0;
        var manifest = await ContentWalker.ReadManifestAsync(Content, manifestDesc, ct).ConfigureAwait(false);
        return manifestDesc.Size + manifest.Config.Size + manifest.Layers.Sum(l => l.Size);
    }

    /// <summary>
    /// Every stored blob a stored image reaches, with the names of the images that reach it: what garbage collection
    /// keeps, what makes a cache record in use, where a push can mount a blob from. A damaged image reaches what it
    /// still names directly; nothing else can be known of it.
    /// </summary>
    public async Task<IReadOnlyDictionary<Digest, IReadOnlyList<string>>> ImageBlobsAsync(CancellationToken ct = default)
    {
        var blobs = new Dictionary<Digest, List<string>>();
        void Add(Digest digest, string image)
        {
            if (!blobs.TryGetValue(digest, out var names)) blobs[digest] = names = [];
            if (!names.Contains(image)) names.Add(image);
        }
        foreach (var image in Metadata.ListImages())
        {
            try
            {
                foreach (var d in await ContentWalker.WalkAsync(Content, image.Target, onlyPresent: true, ct).ConfigureAwait(false))
                    Add(d.Digest, image.Name);
            }
            catch (Exception e) when (e is ContentException or FormatException)
            {
                Add(image.Target.Digest, image.Name);
            }
        }
        return blobs.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<string>)kv.Value);
    }

    /// <summary>
    /// Deletes every blob that no image and no cache record reaches. Takes the exclusive lock:
    /// it waits for running pulls and builds of other processes to finish.
    /// </summary>
    public async Task<GcResult> CollectGarbageAsync(IReadOnlySet<Digest>? extraRoots = null, CancellationToken ct = default)
    {
        // Our own shared lock would deadlock an exclusive request from the same process.
        _sharedLock?.Dispose();
        _sharedLock = null;
        using var exclusive = StateLock.Exclusive(LockPath);
        try
        {
            var live = new HashSet<Digest>(Metadata.CacheBlobRoots());
            if (extraRoots is not null) live.UnionWith(extraRoots);
            live.UnionWith((await ImageBlobsAsync(ct).ConfigureAwait(false)).Keys);
            long freed = 0;
            int removed = 0;
            foreach (var digest in Content.List().ToList())
            {
                if (live.Contains(digest)) continue;
                freed += Content.Delete(digest);
                removed++;
            }
            return new GcResult(removed, freed);
        }
        finally
        {
            exclusive.Dispose();
            _sharedLock = StateLock.Shared(LockPath);
        }
    }

    public void Dispose()
    {
        if (_metadata.IsValueCreated) _metadata.Value.Dispose();
        _sharedLock?.Dispose();
    }
}

public sealed record GcResult(int BlobsRemoved, long BytesFreed);

public sealed class StateDirectoryException(string message) : Exception(message);
