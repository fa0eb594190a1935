using Img.TestSupport;

namespace Img.IntegrationTests;

/// <summary>du and prune over the build cache that real builds leave.</summary>
public sealed class PruneTests
{
    [Fact]
    public async Task PruneKeepsWhatImagesNeedAndRemovesTheRestOnceTheImageIsGone()
    {
        var img = new ImgCli();
        var context = TestUser.CreateOwnedTempDir("prune-ctx");
        File.Copy("/bin/busybox", Path.Combine(context, "busybox"));
        await File.WriteAllTextAsync(Path.Combine(context, "Dockerfile"),
            "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"mkdir\", \"-p\", \"/data\"]\n");
        if (TestUser.RunningAsRoot)
            (await ProcessRunner.RunAsync("chown", ["-R", $"{TestUser.Name}:{TestUser.Name}", context])).EnsureSuccess("chown");
        await img.RunAsync("build", "--no-console", "-t", "prunable", context);

        var du = (await img.RunAsync("du")).Stdout;
        Assert.Contains("COPY busybox /bin/busybox", du);
        Assert.Contains("Reclaimable:\t0B", du);

        var keep = (await img.RunAsync("prune")).Stdout;
        Assert.Contains("Reclaimed:\t0B", keep);
        Assert.Contains("COPY busybox /bin/busybox", (await img.RunAsync("du")).Stdout);

        await img.RunAsync("rm", "prunable");
        var pruned = (await img.RunAsync("prune")).Stdout;
        Assert.Contains("COPY busybox /bin/busybox", pruned);
        Assert.DoesNotContain("Reclaimed:\t0B", pruned);
        var after = (await img.RunAsync("du")).Stdout;
        Assert.Equal("ID\tRECLAIMABLE\tSIZE\tDESCRIPTION\nReclaimable:\t0B\nTotal:\t\t0B\n", after);
        Assert.Empty(Directory.GetFiles(Path.Combine(img.StateDir, "content", "blobs", "sha256")));

        // And the next build starts over cleanly.
        var rebuilt = await img.RunAsync("build", "--no-console", "-t", "prunable", context);
        Assert.DoesNotContain("CACHED", rebuilt.Stderr);
    }
}
