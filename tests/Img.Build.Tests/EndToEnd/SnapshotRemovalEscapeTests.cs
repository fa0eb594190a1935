using System.Diagnostics;
using System.Formats.Tar;
using Img.TestSupport;

namespace Img.Build.Tests.EndToEnd;

/// <summary>
/// Removing a snapshot — after a failed RUN, on <c>img rm</c> + <c>img prune</c> — deletes the snapshot's own tree and
/// nothing through a link in it: not the canary, not the host's root, and a tree of link loops neither hangs nor
/// wedges the store. They run in state directories of their own, one after another (collection "snapshot removal"): a
/// wedged store would fail every other test, and an escaping removal would be retried by every later build there.
/// </summary>
[Collection("snapshot removal")]
public sealed class SnapshotRemovalEscapeTests(ImgBuildFixture img) : IClassFixture<ImgBuildFixture>
{
    public static TheoryData<string> CanaryLinks() => ["{root}", "{root}/locked", "{root}/canary.txt", "../../../../../../../..{root}"];

    /// <summary>A RUN that links to the canary and fails: its snapshot is removed without a chmod, chown or delete through the link.</summary>
    [Theory]
    [MemberData(nameof(CanaryLinks))]
    public async Task FailedRunWithALinkToTheCanaryLeavesItUntouched(string target)
    {
        using var canary = Canary.Create("canary-failed-run");
        var link = target.Replace("{root}", canary.Root);
        var ctx = img.NewContext($"FROM base\nRUN mkdir -p /d && ln -s {link} /link && ln -s {link} /d/link && false\n");
        var r = await img.BuildAsync(ctx, ["--no-console", "-t", "escape/failed", "."]);
        canary.AssertUntouched($"a failed RUN that linked {link}");
        RemovalAttack.AssertRunFailed(r);
    }

    /// <summary>An ADD that fails half-way after its archive planted links to the canary: the step's snapshot goes, the canary stays.</summary>
    [Fact]
    public async Task FailedAddWithALinkToTheCanaryLeavesItUntouched()
    {
        using var canary = Canary.Create("canary-failed-add");
        var ctx = img.NewContext("FROM base\nADD evil.tar /x/\n");
        using (var fs = File.Create(Path.Combine(ctx, "evil.tar")))
        using (var tar = new TarWriter(fs, TarEntryFormat.Pax))
        {
            tar.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "esc") { LinkName = canary.Root });
            tar.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "d/locked") { LinkName = Path.Combine(canary.Root, "locked") });
            // A hard link to nothing the archive holds: extraction fails after the links are in place.
            tar.WriteEntry(new PaxTarEntry(TarEntryType.HardLink, "broken") { LinkName = "not-in-the-archive" });
        }
        var r = await RemovalAttack.TimedBuildAsync(img, ctx, TimeSpan.FromSeconds(90));
        canary.AssertUntouched("a failed ADD that planted links to it");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("not-in-the-archive", r.Stderr);
    }

    /// <summary>
    /// An image whose layer holds a link to the user's directory (as debian's <c>/var/run -&gt; /run</c> points at a
    /// host path): <c>img rm</c> and <c>img prune</c> delete its snapshots without changing the directory's mode.
    /// </summary>
    [Fact]
    public async Task RemovedImageWithALinkInItsLayerLeavesTheTargetUntouched()
    {
        using var canary = Canary.Create("canary-rm-prune");
        var name = "escape/linked-" + Guid.NewGuid().ToString("N")[..8];
        var ctx = img.NewContext($"FROM base\nRUN ln -s {canary.Root} /var-run && ln -s {canary.Root}/locked /locked && echo {name} > /unique\n");
        (await img.BuildAsync(ctx, ["--no-console", "-t", name, "."])).EnsureSuccess("build");
        canary.AssertUntouched("the build");
        (await img.ImgAsync(img.State, null, ["rm", name], timeout: TimeSpan.FromSeconds(90))).EnsureSuccess("img rm");
        (await img.ImgAsync(img.State, null, ["prune"], timeout: TimeSpan.FromSeconds(90))).EnsureSuccess("img prune");
        canary.AssertUntouched("img rm and img prune of an image linking to it");
    }
}

/// <summary>What the snapshot removal attacks share: a build that must end in time, and a RUN's failure as the only error.</summary>
internal static class RemovalAttack
{
    public static async Task<ProcessResult> TimedBuildAsync(ImgBuildFixture img, string ctx, TimeSpan limit, params string[] args)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            // A tag unless the caller exports: a build needs one or the other.
            string[] output = args.Length > 0 ? args : ["-t", "escape/timed"];
            return await img.ImgAsync(ctx, null, ["build", "--no-console", .. output, "."], timeout: limit);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"the build did not finish in {limit} (killed after {clock.Elapsed})");
            throw;
        }
    }

    /// <summary>The RUN's own failure is the one error: not a removal error, not a hang.</summary>
    public static void AssertRunFailed(ProcessResult r)
    {
        Assert.Equal(1, r.ExitCode);
        var errors = r.Stderr.Split('\n').Where(l => l.StartsWith("Error:", StringComparison.Ordinal)).ToList();
        Assert.True(errors.Count == 1 && errors[0].Contains("did not complete successfully: exit code: 1"),
            "expected only the RUN's failure:\n" + r.Stderr);
    }
}

/// <summary>A removal attack that, when it escapes, leaves a <c>.rm-</c> directory every later build retries: a state directory of its own.</summary>
[Collection("snapshot removal")]
public sealed class HostRootLinkRemovalTests(ImgBuildFixture img) : IClassFixture<ImgBuildFixture>
{
    /// <summary><c>RUN ln -s / /root-link &amp;&amp; false</c>: the removal stays in the snapshot, so it is quick and touches no file of the user's.</summary>
    [Fact]
    public async Task FailedRunLinkingTheHostRootIsRemovedQuickly()
    {
        using var canary = Canary.Create("canary-root-link");
        var ctx = img.NewContext("FROM base\nRUN ln -s / /root-link && false\n");
        var r = await RemovalAttack.TimedBuildAsync(img, ctx, TimeSpan.FromSeconds(60));
        canary.AssertUntouched("a failed RUN that linked /");
        RemovalAttack.AssertRunFailed(r);
    }
}

/// <summary>A removal attack that, when it escapes, leaves a <c>.rm-</c> directory every later build retries: a state directory of its own.</summary>
[Collection("snapshot removal")]
public sealed class UsrLinkRemovalTests(ImgBuildFixture img) : IClassFixture<ImgBuildFixture>
{
    /// <summary><c>RUN ln -s /usr /x &amp;&amp; false</c> once hung the build for minutes walking the host's /usr.</summary>
    [Fact]
    public async Task FailedRunLinkingUsrDoesNotHang()
    {
        using var canary = Canary.Create("canary-usr-link");
        var ctx = img.NewContext("FROM base\nRUN ln -s /usr /x && ln -s /home /h && false\n");
        var r = await RemovalAttack.TimedBuildAsync(img, ctx, TimeSpan.FromSeconds(90));
        canary.AssertUntouched("a failed RUN that linked /usr");
        RemovalAttack.AssertRunFailed(r);
    }
}

/// <summary>A removal attack that, when it escapes, leaves a <c>.rm-</c> directory every later build retries: a state directory of its own.</summary>
[Collection("snapshot removal")]
public sealed class LinkLoopRemovalTests(ImgBuildFixture img) : IClassFixture<ImgBuildFixture>
{
    /// <summary>Link loops in a failed RUN's snapshot: removed, and the next build and prune succeed (the store is not wedged).</summary>
    [Fact]
    public async Task FailedRunWithLinkLoopsDoesNotWedgeTheStore()
    {
        using var canary = Canary.Create("canary-loops");
        var ctx = img.NewContext($"FROM base\nRUN mkdir -p /d/a && ln -s . /d/loop && ln -s .. /d/a/up && ln -s {canary.Root} /d/a/c && false\n");
        var r = await RemovalAttack.TimedBuildAsync(img, ctx, TimeSpan.FromSeconds(90));
        RemovalAttack.AssertRunFailed(r);
        var next = img.NewContext("FROM base\nRUN echo after > /after\n");
        (await RemovalAttack.TimedBuildAsync(img, next, TimeSpan.FromSeconds(90), "-o", "type=local,dest=out")).EnsureSuccess("the build after link loops");
        Assert.Equal("after\n", File.ReadAllText(Path.Combine(next, "out/after")));
        (await img.ImgAsync(img.State, null, ["prune"], timeout: TimeSpan.FromSeconds(90))).EnsureSuccess("prune after link loops");
        // Not a recursive search: the state holds the attack's link loops until they are gone.
        Assert.Empty(Directory.EnumerateDirectories(Path.Combine(img.State, "snapshots")).SelectMany(b => Directory.EnumerateDirectories(b, ".rm-*")));
        canary.AssertUntouched("link loops in a failed RUN, a build and a prune");
    }
}
