using Img.TestSupport;
using Xunit.Abstractions;

namespace Img.IntegrationTests;

/// <summary>
/// A store damaged on disk (a flipped or truncated blob, a lost snapshot, a damaged metadata.db) is never served
/// as if it were sound: the damage is found while the bytes stream, named with what to do, repaired by a pull or
/// by <c>img fsck</c>, and a build reruns a step whose snapshot is gone.
/// </summary>
public sealed class SelfVerifyingStoreTests(ITestOutputHelper output)
{
    private static string BlobPath(ImgCli img, string digest) =>
        Path.Combine(img.StateDir, "content", "blobs", "sha256", digest["sha256:".Length..]);

    private static void Flip(string path, long at)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        f.Position = at;
        int b = f.ReadByte();
        f.Position = at;
        f.WriteByte((byte)(b ^ 0x01));
    }

    private static void AssertOneErrorLine(ProcessResult r, string contains)
    {
        Assert.Equal(1, r.ExitCode);
        var errors = r.Stderr.Split('\n').Where(l => l.StartsWith("Error: ", StringComparison.Ordinal)).ToList();
        Assert.True(errors.Count == 1, "expected one Error: line:\n" + r.Stderr);
        Assert.Contains(contains, errors[0]);
        Assert.DoesNotContain("   at ", r.Stderr);
    }

    [Fact]
    public async Task FlippedLayerIsNotSavedAndAPullFetchesItAgain()
    {
        await using var registry = await RegistryServer.StartAsync(RegistryShape.Plain);
        var seeded = await registry.SeedBusyboxAsync("library/busybox", "damaged");
        var img = new ImgCli();
        await img.RunAsync("pull", seeded.Reference);
        var layer = BlobPath(img, seeded.Layer.Digest.ToString());
        Flip(layer, new FileInfo(layer).Length / 2);

        var archive = Path.Combine(TestUser.CreateOwnedTempDir("damaged-save"), "out.tar");
        var save = await img.TryAsync("save", "-o", archive, seeded.Reference);
        output.WriteLine(save.Stderr);
        AssertOneErrorLine(save, $"blob {seeded.Layer.Digest} is damaged in the store");
        Assert.False(File.Exists(archive), "an archive of a damaged image was written");
        Assert.False(File.Exists(layer), "the damaged blob is still in the store");

        var fsck = await img.TryAsync("fsck");
        output.WriteLine("img fsck on an image that lost a layer:\n" + fsck.Stdout + fsck.Stderr);
        Assert.Contains($"lost {seeded.Layer.Digest} (layer)", fsck.Stdout);
        Assert.Equal(1, fsck.ExitCode);

        // The blob is gone, so the next pull fetches it, and the image is whole again.
        await img.RunAsync("pull", seeded.Reference);
        await img.RunAsync("save", "-o", archive, seeded.Reference);
        Assert.True(File.Exists(archive));
        Assert.Equal(0, (await img.TryAsync("fsck")).ExitCode);
    }

    [Fact]
    public async Task TruncatedLayerIsNamedByPushAndUnpack()
    {
        await using var registry = await RegistryServer.StartAsync(RegistryShape.Plain);
        var seeded = await registry.SeedBusyboxAsync("library/busybox", "truncated");
        var img = new ImgCli();
        await img.RunAsync("pull", seeded.Reference);
        await img.RunAsync("tag", seeded.Reference, $"{registry.HostPort}/copy/busybox:1");
        var layer = BlobPath(img, seeded.Layer.Digest.ToString());
        var rootfs = Path.Combine(TestUser.CreateOwnedTempDir("damaged-unpack"), "rootfs");

        await using (var f = new FileStream(layer, FileMode.Open)) f.SetLength(f.Length / 2);
        var push = await img.TryAsync("push", $"{registry.HostPort}/copy/busybox:1");
        output.WriteLine(push.Stderr);
        AssertOneErrorLine(push, $"blob {seeded.Layer.Digest} is damaged in the store");

        await img.RunAsync("pull", seeded.Reference);
        Flip(layer, 100);
        var unpack = await img.TryAsync("unpack", "-o", rootfs, seeded.Reference);
        output.WriteLine(unpack.Stderr);
        AssertOneErrorLine(unpack, $"blob {seeded.Layer.Digest} is damaged in the store");
        Assert.False(Directory.Exists(rootfs));
    }

    [Fact]
    public async Task FsckReportsAndRepairsEachKindOfDamage()
    {
        var img = new ImgCli();
        await img.RunAsync("import", await BusyboxRootfs.TarballAsync(), "fsckbase");
        var ctx = TestUser.CreateOwnedTempDir("fsck-ctx");
        await File.WriteAllTextAsync(Path.Combine(ctx, "Dockerfile"), "FROM fsckbase\nRUN echo one > /one\nRUN echo two > /two\n");
        await CrashData.ChownAsync(ctx);
        await img.RunAsync("build", "--no-console", "-t", "fsck1", ctx);
        var clean = await img.RunAsync("fsck");
        output.WriteLine("img fsck on a sound store:\n" + clean.Stdout);
        Assert.Contains("no problems found", clean.Stdout);

        // A flipped blob of one image, a removed snapshot behind a cache record.
        var (_, digest) = StoreChecker.ParseLs((await img.RunAsync("ls")).Stdout).Single(x => x.Name.Contains("fsck1", StringComparison.Ordinal));
        Flip(BlobPath(img, digest), 10);
        var snapshot = Directory.GetDirectories(Path.Combine(img.StateDir, "snapshots"), "snapshots", SearchOption.AllDirectories)
            .SelectMany(Directory.GetDirectories)
            .OrderByDescending(d => Directory.GetLastWriteTimeUtc(d))
            .First();
        Directory.Delete(snapshot, recursive: true);

        var fsck = await img.TryAsync("fsck");
        output.WriteLine("img fsck on a store with a flipped manifest and a removed snapshot:\n" + fsck.Stdout + fsck.Stderr);
        Assert.Contains($"{digest}", fsck.Stdout);
        Assert.Contains("damaged (its", fsck.Stdout);
        Assert.Contains("is gone: record dropped (the step runs again)", fsck.Stdout);
        Assert.Contains("lost", fsck.Stdout);
        Assert.Equal(1, fsck.ExitCode);

        // The build reruns what was lost and the store is sound again.
        await img.RunAsync("build", "--no-console", "-t", "fsck1", ctx);
        Assert.Contains("no problems found", (await img.RunAsync("fsck")).Stdout);
    }

    [Fact]
    public async Task BuildRerunsAStepWhoseSnapshotIsGone()
    {
        var img = new ImgCli();
        await img.RunAsync("import", await BusyboxRootfs.TarballAsync(), "snapbase");
        var ctx = TestUser.CreateOwnedTempDir("snap-ctx");
        await File.WriteAllTextAsync(Path.Combine(ctx, "Dockerfile"), "FROM snapbase\nRUN echo one > /one\nRUN echo two > /two\nRUN cat /one /two > /both\n");
        await CrashData.ChownAsync(ctx);
        await img.RunAsync("build", "--no-console", "-t", "snap", ctx);

        // Remove the snapshot of the middle step (the newest but one): the later step's cached snapshot builds on it.
        var snapshots = Directory.GetDirectories(Path.Combine(img.StateDir, "snapshots"), "snapshots", SearchOption.AllDirectories)
            .SelectMany(Directory.GetDirectories)
            .OrderByDescending(d => File.GetLastWriteTimeUtc(Path.Combine(d, "meta.json")))
            .ToList();
        Directory.Delete(snapshots[1], recursive: true);

        var again = await img.TryAsync("build", "--no-console", "-t", "snap", ctx);
        output.WriteLine(again.Stderr);
        Assert.True(again.ExitCode == 0, "a build after a snapshot went missing failed:\n" + again.Stderr);
        var rootfs = Path.Combine(TestUser.CreateOwnedTempDir("snap-out"), "rootfs");
        await img.RunAsync("unpack", "-o", rootfs, "snap");
        Assert.Equal("one\ntwo\n", await File.ReadAllTextAsync(Path.Combine(rootfs, "both")));
        await img.RunAsync("prune");
        await StoreChecker.AssertConsistentAsync(img, when: "after a snapshot went missing");
    }

    [Fact]
    public async Task DamagedMetadataDatabaseIsNamedAndRebuiltByFsck()
    {
        var img = new ImgCli();
        await img.RunAsync("import", await BusyboxRootfs.TarballAsync(), "keepme");
        var db = Path.Combine(img.StateDir, "metadata.db");
        var bytes = await File.ReadAllBytesAsync(db);
        // The header's page size becomes nonsense: SQLite calls it "not a database" / "malformed".
        for (int i = 16; i < 100; i++) bytes[i] = 0xee;
        await File.WriteAllBytesAsync(db, bytes);

        var ls = await img.TryAsync("ls");
        output.WriteLine(ls.Stderr);
        AssertOneErrorLine(ls, $"metadata database {db} is damaged");
        Assert.Contains("img fsck", ls.Stderr);

        var fsck = await img.TryAsync("fsck");
        output.WriteLine("img fsck on a damaged metadata.db:\n" + fsck.Stdout + fsck.Stderr);
        Assert.Contains("metadata.db", fsck.Stdout);
        Assert.Contains("moved to", fsck.Stdout);
        Assert.Equal(0, (await img.TryAsync("ls")).ExitCode);
        // The store works again: a new image goes in.
        await img.RunAsync("import", await BusyboxRootfs.TarballAsync(), "again");
        Assert.Contains("again", (await img.RunAsync("ls")).Stdout);
    }
}
