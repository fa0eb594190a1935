using Img.TestSupport;
using Xunit.Abstractions;

namespace Img.IntegrationTests;

/// <summary>
/// Several img processes on one state directory at once: builds, pulls of the same image, and prune
/// while a build runs. All succeed, no image record is lost and no blob an image needs is deleted.
/// </summary>
public sealed class ConcurrencyTests(ITestOutputHelper output)
{
    [Fact]
    public async Task BuildsAndPullsOfTheSameImageAtOnce()
    {
        await using var registry = await RegistryServer.StartAsync(RegistryShape.Plain);
        var seeded = await registry.SeedBusyboxAsync("library/busybox", "conc");
        var img = new ImgCli();
        await img.RunAsync("import", await BusyboxRootfs.TarballAsync(), "concbase");

        var contexts = new List<string>();
        for (int i = 0; i < 3; i++)
        {
            var ctx = TestUser.CreateOwnedTempDir($"conc-ctx{i}");
            await File.WriteAllTextAsync(Path.Combine(ctx, $"file{i}"), $"context {i}\n");
            await File.WriteAllTextAsync(Path.Combine(ctx, "Dockerfile"),
                // The same first step in all three: one cache key that three processes build at once.
                $"FROM concbase\nRUN echo common > /common\nRUN dd if=/dev/urandom of=/rand{i} bs=65536 count={8 * (i + 1)} 2>/dev/null && echo {i} > /which\nCOPY file{i} /file{i}\n");
            await CrashData.ChownAsync(ctx);
            contexts.Add(ctx);
        }

        var runs = new List<(string What, Task<ProcessResult> Run)>();
        for (int i = 0; i < 3; i++)
        {
            runs.Add(($"build {i}", img.TryAsync("build", "--no-console", "-t", $"conc/build{i}", contexts[i])));
            runs.Add(($"pull {i}", img.TryAsync("pull", seeded.Reference)));
        }
        await Task.WhenAll(runs.Select(r => r.Run));
        foreach (var (what, run) in runs)
        {
            var r = await run;
            Assert.True(r.ExitCode == 0, $"{what} failed while running beside the others:\n{r.Stderr}");
        }
        output.WriteLine($"{runs.Count} concurrent runs (3 builds, 3 pulls of one image) succeeded");

        await StoreChecker.AssertConsistentAsync(img);
        var rows = StoreChecker.ParseLs((await img.RunAsync("ls")).Stdout);
        Assert.Contains((seeded.Reference, seeded.Manifest.Digest.ToString()), rows);
        for (int i = 0; i < 3; i++)
        {
            Assert.Contains(rows, r => r.Name == $"docker.io/conc/build{i}:latest");
            var dest = Path.Combine(TestUser.CreateOwnedTempDir("conc-unpack"), "rootfs");
            await img.RunAsync("unpack", "-o", dest, $"conc/build{i}");
            Assert.Equal($"{i}\n", await File.ReadAllTextAsync(Path.Combine(dest, "which")));
            Assert.Equal($"context {i}\n", await File.ReadAllTextAsync(Path.Combine(dest, $"file{i}")));
        }
    }

    [Fact]
    public async Task PruneWhileBuildingAndPullingLosesNothingInUse()
    {
        await using var registry = await RegistryServer.StartAsync(RegistryShape.Plain);
        var seeded = await registry.SeedBusyboxAsync("library/busybox", "prune");
        var img = new ImgCli();
        await img.RunAsync("import", await BusyboxRootfs.TarballAsync(), "prunebase");
        // Garbage for prune to collect: an image removed again and its build cache.
        var junk = TestUser.CreateOwnedTempDir("prune-junk");
        await File.WriteAllTextAsync(Path.Combine(junk, "Dockerfile"), "FROM prunebase\nRUN echo junk > /junk\n");
        await CrashData.ChownAsync(junk);
        await img.RunAsync("build", "--no-console", "-t", "junk", junk);
        await img.RunAsync("rm", "junk");

        var ctx = TestUser.CreateOwnedTempDir("prune-ctx");
        await File.WriteAllTextAsync(Path.Combine(ctx, "Dockerfile"),
            "FROM prunebase\nRUN dd if=/dev/urandom of=/a bs=65536 count=16 2>/dev/null && sleep 2\nRUN sleep 1 && echo second > /b\n");
        await CrashData.ChownAsync(ctx);

        using var build = RunningImg.Start(img, "build", "--no-console", "-t", "pruned/build", ctx);
        var pull = img.TryAsync("pull", seeded.Reference);
        int prunes = 0;
        var prune = Task.Run(async () =>
        {
            // Prune repeatedly while the build runs: between its steps it has blobs and snapshots
            // written but no image record yet.
            while (!build.HasExited)
            {
                var r = await img.TryAsync("prune");
                Assert.True(r.ExitCode == 0, "prune beside a build failed:\n" + r.Stderr);
                prunes++;
            }
        });
        Assert.True(await build.WaitAsync(TimeSpan.FromMinutes(3)) == 0, "the build beside prune failed:\n" + build.Stderr);
        await prune;
        var pulled = await pull;
        Assert.True(pulled.ExitCode == 0, "the pull beside prune failed:\n" + pulled.Stderr);
        output.WriteLine($"{prunes} prunes ran during one build and one pull");
        Assert.True(prunes > 0);

        await StoreChecker.AssertConsistentAsync(img);
        var rows = StoreChecker.ParseLs((await img.RunAsync("ls")).Stdout);
        Assert.Contains(rows, r => r.Name == "docker.io/pruned/build:latest");
        Assert.Contains((seeded.Reference, seeded.Manifest.Digest.ToString()), rows);
        var dest = Path.Combine(TestUser.CreateOwnedTempDir("prune-unpack"), "rootfs");
        await img.RunAsync("unpack", "-o", dest, "pruned/build");
        Assert.Equal("second\n", await File.ReadAllTextAsync(Path.Combine(dest, "b")));
        // The cache the build wrote survived prune: the same build is fully cached now.
        var again = await img.RunAsync("build", "--no-console", "-t", "pruned/build", ctx);
        Assert.Contains("CACHED", again.Stderr + again.Stdout);
    }
}
