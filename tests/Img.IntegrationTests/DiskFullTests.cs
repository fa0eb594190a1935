using System.Text.Json;
using Img.TestSupport;
using Xunit.Abstractions;

namespace Img.IntegrationTests;

/// <summary>
/// The state directory on a 30 MiB tmpfs: a build or an import that does not fit fails with one clear
/// line, the store stays consistent and the space comes back.
/// </summary>
public sealed class DiskFullTests(ITestOutputHelper output)
{
    [Fact]
    public async Task RunWritingMoreThanTheDiskHolds() =>
        await OnSmallDiskAsync(async (img, ctx) =>
        {
            await File.WriteAllTextAsync(Path.Combine(ctx, "Dockerfile"), "FROM fullbase\nRUN dd if=/dev/zero of=/big bs=1048576 count=50\n");
            return await img.TryAsync("build", "--no-console", "-t", "toobig", ctx);
        });

    [Fact]
    public async Task LayerThatFitsInTheSnapshotButNotAgainAsABlob() =>
        // 17 MiB of random data fit in the snapshot; its gzip blob (as big again) does not.
        await OnSmallDiskAsync(async (img, ctx) =>
        {
            await File.WriteAllTextAsync(Path.Combine(ctx, "Dockerfile"), "FROM fullbase\nRUN dd if=/dev/urandom of=/big bs=1048576 count=17\n");
            return await img.TryAsync("build", "--no-console", "-t", "toobig", ctx);
        });

    [Fact]
    public async Task ImportOfATarBiggerThanTheDisk()
    {
        var tar = await CrashData.RandomTarAsync(50);
        await OnSmallDiskAsync((img, _) => img.TryAsync("import", tar, "toobig"));
    }

    private async Task OnSmallDiskAsync(Func<ImgCli, string, Task<ProcessResult>> fill)
    {
        if (!TestUser.RunningAsRoot)
        {
            // xunit 2 has no runtime skip: say so in the output and pass.
            output.WriteLine("SKIPPED: mounting a tmpfs needs root; run the tests as root (they drop to the test user for img)");
            return;
        }
        var mountPoint = TestUser.CreateOwnedTempDir("img-tmpfs");
        (await ProcessRunner.RunAsync("mount", ["-t", "tmpfs", "-o", "size=30m,mode=0755", "tmpfs", mountPoint])).EnsureSuccess("mount tmpfs");
        try
        {
            (await ProcessRunner.RunAsync("chown", [$"{TestUser.Name}:{TestUser.Name}", mountPoint])).EnsureSuccess("chown");
            var img = new ImgCli(Path.Combine(mountPoint, "state"));
            await img.RunAsync("import", await BusyboxRootfs.TarballAsync(), "fullbase");
            var ctx = TestUser.CreateOwnedTempDir("full-ctx");
            // A build that fits first, so the base's unpacked snapshot (kept for reuse) is there before.
            await File.WriteAllTextAsync(Path.Combine(ctx, "Dockerfile"), "FROM fullbase\nRUN echo fits > /fits\n");
            await CrashData.ChownAsync(ctx);
            await img.RunAsync("build", "--no-console", "-t", "fits", ctx);
            long before = Used(mountPoint);

            var failed = await fill(img, ctx);
            output.WriteLine($"stderr of the failing command:\n{failed.Stderr}");
            Assert.Equal(1, failed.ExitCode);
            var lines = failed.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            var errors = lines.Where(l => l.StartsWith("Error: ", StringComparison.Ordinal)).ToList();
            Assert.True(errors.Count == 1, "expected exactly one Error: line:\n" + failed.Stderr);
            Assert.Equal(errors[0], lines[^1]);
            Assert.DoesNotContain("   at ", failed.Stderr);
            Assert.DoesNotContain("Exception", failed.Stderr);

            await StoreChecker.AssertConsistentAsync(img, when: "after the disk filled");
            long after = Used(mountPoint);
            output.WriteLine($"tmpfs used: {before} bytes before, {after} after");
            Assert.True(after <= before + 1048576, $"space not released: {before} bytes used before, {after} after");
            AssertNoActiveSnapshots(img.StateDir);
            Assert.Contains("docker.io/library/fullbase:latest", (await img.RunAsync("ls")).Stdout);

            // The store still works: something that fits goes in.
            await File.WriteAllTextAsync(Path.Combine(ctx, "Dockerfile"), "FROM fullbase\nRUN echo fits again > /fits\n");
            await img.RunAsync("build", "--no-console", "-t", "fits2", ctx);
            await StoreChecker.AssertConsistentAsync(img, when: "after a build that fits");
        }
        finally
        {
            await ProcessRunner.RunAsync("umount", ["-l", mountPoint]);
        }
    }

    /// <summary>
    /// A disk filled to the last byte by something else: ls, du, rm and prune still work (they once all failed with
    /// SQLite's "disk I/O error"), and prune gives the space of a removed image back.
    /// </summary>
    [Fact]
    public async Task LsDuRmAndPruneWorkOnAFullDisk()
    {
        if (!TestUser.RunningAsRoot)
        {
            output.WriteLine("SKIPPED: mounting a tmpfs needs root; run the tests as root (they drop to the test user for img)");
            return;
        }
        var mountPoint = TestUser.CreateOwnedTempDir("img-tmpfs-full");
        (await ProcessRunner.RunAsync("mount", ["-t", "tmpfs", "-o", "size=30m,mode=0755", "tmpfs", mountPoint])).EnsureSuccess("mount tmpfs");
        try
        {
            (await ProcessRunner.RunAsync("chown", [$"{TestUser.Name}:{TestUser.Name}", mountPoint])).EnsureSuccess("chown");
            var img = new ImgCli(Path.Combine(mountPoint, "state"));
            await img.RunAsync("import", await CrashData.RandomTarAsync(4), "full/a:v1");
            await img.RunAsync("import", await BusyboxRootfs.TarballAsync(), "full/b:v1");
            // Fill what is left, as root (the user's own writes would fail the same way).
            var filler = Path.Combine(mountPoint, "filler");
            await ProcessRunner.RunAsync("dd", ["if=/dev/zero", $"of={filler}", "bs=1M"]);
            await ProcessRunner.RunAsync("dd", ["if=/dev/zero", $"of={filler}-tail", "bs=4k"]);
            output.WriteLine($"free before the commands: {new DriveInfo(mountPoint).AvailableFreeSpace} bytes");
            Assert.True(new DriveInfo(mountPoint).AvailableFreeSpace < 4096, "the disk is not full");

            foreach (var args in new[] { new[] { "ls" }, ["du"], ["rm", "full/a:v1"], ["prune"], ["ls"] })
            {
                var r = await img.TryAsync(args);
                output.WriteLine($"img {string.Join(' ', args)} on a full disk: exit {r.ExitCode}\n{r.Stdout}{r.Stderr}");
                Assert.True(r.ExitCode == 0, $"img {string.Join(' ', args)} failed on a full disk:\n{r.Stderr}");
            }
            Assert.DoesNotContain("full/a:v1", (await img.RunAsync("ls")).Stdout);
            Assert.Contains("full/b:v1", (await img.RunAsync("ls")).Stdout);
            Assert.True(new DriveInfo(mountPoint).AvailableFreeSpace > (4 << 20), "rm and prune gave no space back");
            File.Delete(filler);
            File.Delete(filler + "-tail");
            await StoreChecker.AssertConsistentAsync(img, when: "after commands on a full disk");
        }
        finally
        {
            await ProcessRunner.RunAsync("umount", ["-l", mountPoint]);
        }
    }

    private static long Used(string mountPoint)
    {
        var drive = new DriveInfo(mountPoint);
        return drive.TotalSize - drive.TotalFreeSpace;
    }

    private static void AssertNoActiveSnapshots(string state)
    {
        var root = Path.Combine(state, "snapshots");
        if (!Directory.Exists(root)) return;
        foreach (var backend in Directory.GetDirectories(root))
        {
            var dir = Path.Combine(backend, "snapshots");
            if (!Directory.Exists(dir)) continue;
            foreach (var snapshot in Directory.GetDirectories(dir))
            {
                var meta = Path.Combine(snapshot, "meta.json");
                Assert.True(File.Exists(meta), $"{snapshot} is a snapshot directory without a record");
                using var doc = JsonDocument.Parse(File.ReadAllBytes(meta));
                Assert.Equal("Committed", doc.RootElement.GetProperty("kind").GetString());
            }
        }
    }
}
