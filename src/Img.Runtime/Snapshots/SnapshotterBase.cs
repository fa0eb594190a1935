using Img.Fs;

namespace Img.Runtime.Snapshots;

/// <summary>The snapshot table logic shared by every backend; a backend decides how snapshots are laid out and mounted.</summary>
public abstract class SnapshotterBase : ISnapshotter
{
    private protected SnapshotterBase(string root)
    {
        Root = root;
        Table = new SnapshotTable(root);
    }

    private protected SnapshotTable Table { get; }

    /// <inheritdoc/>
    public abstract SnapshotterKind Kind { get; }

    /// <inheritdoc/>
    public string Root { get; }

    /// <inheritdoc/>
    public abstract bool RenamesLowerDirectories { get; }

    /// <inheritdoc/>
    public Task<IReadOnlyList<Mount>> PrepareAsync(string key, string? parent, CancellationToken ct = default) =>
        CreateAsync(key, parent, SnapshotKind.Active, ct);

    /// <inheritdoc/>
    public Task<IReadOnlyList<Mount>> ViewAsync(string key, string? parent, CancellationToken ct = default) =>
        CreateAsync(key, parent, SnapshotKind.View, ct);

    private async Task<IReadOnlyList<Mount>> CreateAsync(string key, string? parent, SnapshotKind kind, CancellationToken ct)
    {
        SnapshotInfo info;
        IReadOnlyList<SnapshotInfo> chain;
        using (Table.Lock())
        {
            if (Table.Find(key) is not null) throw new InvalidOperationException($"snapshot {key} already exists");
            chain = Table.Chain(parent);
            var id = Table.NewId();
            Directory.CreateDirectory(Path.Combine(Table.DirOf(id), "fs"));
            info = new SnapshotInfo(key, id, parent, kind, DateTimeOffset.UtcNow, ProcessOwner.Current.ToString());
            CreateLayout(info);
            Table.Put(info);
        }
        try
        {
            await PopulateAsync(info, chain, ct).ConfigureAwait(false);
        }
        catch
        {
            await RemoveAsync(key, CancellationToken.None).ConfigureAwait(false);
            throw;
        }
        return MountsFor(info, chain);
    }

    /// <inheritdoc/>
    public IReadOnlyList<Mount> Mounts(string key)
    {
        var info = Table.Get(key);
        return MountsFor(info, Table.Chain(info.Parent));
    }

    /// <inheritdoc/>
    public Task<SnapshotInfo> CommitAsync(string name, string key, CancellationToken ct = default)
    {
        using (Table.Lock())
        {
            var info = Table.Get(key);
            if (info.Kind != SnapshotKind.Active) throw new InvalidOperationException($"snapshot {key} is not active and cannot be committed");
            if (Table.Find(name) is not null) throw new InvalidOperationException($"snapshot {name} already exists");
            var committed = info with { Key = name, Kind = SnapshotKind.Committed, Owner = null };
            Table.Put(committed);
            if (name != key) Table.DeleteKey(key);
            return Task.FromResult(committed);
        }
    }

    /// <inheritdoc/>
    public Task RemoveAsync(string key, CancellationToken ct = default)
    {
        string dir;
        using (Table.Lock())
        {
            var info = Table.Get(key);
            var child = Table.List().FirstOrDefault(s => s.Parent == key);
            if (child is not null) throw new InvalidOperationException($"snapshot {key} is the parent of {child.Key} and cannot be removed");
            Table.DeleteKey(key);
            dir = Table.DirOf(info.Id);
        }
        return Task.Run(() => DeleteTree(dir), ct);
    }

    /// <inheritdoc/>
    public int ReclaimStale()
    {
        var doomed = new List<string>();
        using (Table.Lock())
        {
            var live = new HashSet<string>(StringComparer.Ordinal);
            foreach (var info in Table.List())
            {
                if (info.Kind == SnapshotKind.Committed || (info.Owner is { } o && ProcessOwner.TryParse(o, out var owner) && owner.IsAlive()))
                {
                    live.Add(info.Id);
                    continue;
                }
                Table.DeleteKey(info.Key);
            }
            // Under the table lock no directory is between NewId and Put, so anything not in the table
            // (a snapshot whose key was dropped, a half-deleted .rm- directory) belongs to nobody.
            foreach (var dir in Directory.EnumerateDirectories(Table.SnapshotsDir))
                if (!live.Contains(Path.GetFileName(dir))) doomed.Add(dir);
        }
        foreach (var dir in doomed)
        {
            StaleMounts.DetachUnder(dir);
            DeleteTree(dir);
        }
        return doomed.Count;
    }

    /// <inheritdoc/>
    public SnapshotInfo? Stat(string key) => Table.Find(key);

    /// <inheritdoc/>
    public IReadOnlyList<SnapshotInfo> List() => Table.List();

    /// <inheritdoc/>
    public long Usage(string key)
    {
        return FileTree.Usage(FsDir(key));
    }

    /// <inheritdoc/>
    public string FsDir(string key) => Path.Combine(Table.DirOf(Table.Get(key).Id), "fs");

    /// <inheritdoc/>
    public abstract string? UpperDir(string key);

    /// <inheritdoc/>
    public virtual string Attach(string key, string mountDir)
    {
        Mounter.MountAll(Mounts(key), mountDir);
        return mountDir;
    }

    /// <inheritdoc/>
    public virtual void Detach(string path) => Mounter.Unmount(path);

    /// <summary>Creates backend-specific directories beside <c>fs</c> (e.g. the overlay workdir).</summary>
    private protected virtual void CreateLayout(SnapshotInfo info) { }

    /// <summary>Fills a new snapshot's directory (the native backend copies its parent).</summary>
    private protected virtual Task PopulateAsync(SnapshotInfo info, IReadOnlyList<SnapshotInfo> chain, CancellationToken ct) => Task.CompletedTask;

    /// <summary>The mounts of <paramref name="info"/> over <paramref name="chain"/> (nearest parent first).</summary>
    private protected abstract IReadOnlyList<Mount> MountsFor(SnapshotInfo info, IReadOnlyList<SnapshotInfo> chain);

    private protected string FsDirOf(SnapshotInfo info) => Path.Combine(Table.DirOf(info.Id), "fs");

    private static void DeleteTree(string dir)
    {
        if (!Directory.Exists(dir)) return;
        // Rename first so a half-deleted snapshot never looks like a live one.
        var name = Path.GetFileName(dir);
        var doomed = name.StartsWith(".rm-", StringComparison.Ordinal) ? dir : Path.Combine(Path.GetDirectoryName(dir)!, ".rm-" + name);
        if (doomed != dir) Directory.Move(dir, doomed);
        // Never through a link: a RUN step may have left links to "/" or loops, and read-only directories.
        FileTree.RemoveTree(doomed);
    }
}
