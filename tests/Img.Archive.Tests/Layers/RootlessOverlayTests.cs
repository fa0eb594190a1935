using Img.Archive.Layers;
using Img.TestSupport;

namespace Img.Archive.Tests.Layers;

/// <summary>
/// The rootless path: kernel overlayfs mounted by the unprivileged test user inside its own user
/// namespace (userxattr, so opaque dirs carry user.overlay.opaque). Our upper dirs must mean the same
/// to that kernel, and its upper dirs must convert to the same OCI changes.
/// </summary>
public class RootlessOverlayTests
{
    private sealed record Dirs(string Base, string Lower, string Upper, string Work, string Merged);

    private static Dirs Prepare()
    {
        var b = TestUser.CreateOwnedTempDir("img-rootless-overlay");
        var d = new Dirs(b, Path.Combine(b, "lower"), Path.Combine(b, "upper"), Path.Combine(b, "work"), Path.Combine(b, "merged"));
        foreach (var p in new[] { d.Lower, d.Upper, d.Work, d.Merged }) Directory.CreateDirectory(p);
        Tree.Write(d.Lower, "keep", "keep");
        Tree.Write(d.Lower, "gone", "gone");
        Tree.Write(d.Lower, "gonedir/a", "a");
        Tree.Write(d.Lower, "opq/old", "old");
        return d;
    }

    private static async Task Own(string path)
    {
        if (TestUser.RunningAsRoot) await Tree.Run("chown", "-R", $"{TestUser.Name}:{TestUser.Name}", path);
    }

    /// <summary>Mounts the overlay as the test user in a new user namespace and runs <paramref name="script"/> there.</summary>
    private static async Task<string> InUserNamespace(Dirs d, string script)
    {
        var mount = $"mount -t overlay overlay -o userxattr,lowerdir={d.Lower},upperdir={d.Upper},workdir={d.Work} {d.Merged}";
        var (file, args) = TestUser.Wrap("unshare", ["--user", "--map-root-user", "--mount", "sh", "-ec", mount + "\n" + script]);
        return (await ProcessRunner.RunAsync(file, args)).EnsureSuccess("rootless overlay").Stdout;
    }

    [Fact]
    public async Task RootlessKernelOverlayHonoursTheUpperDirsWeApply()
    {
        var d = Prepare();
        try
        {
            var layer = await Tree.BuildTar(
                Tree.File(".wh.gone", ""), Tree.File(".wh.gonedir", ""),
                Tree.Dir("opq"), Tree.File("opq/.wh..wh..opq", ""), Tree.File("opq/new", "new"), Tree.File("added", "added"));
            await Tree.Apply(layer, d.Upper, new ApplyOptions { Mode = ApplyMode.OverlayUpper, OverlayXattrPrefix = "user.overlay.", PreserveOwnership = false });
            await Own(d.Base);
            var listing = await InUserNamespace(d, $"cd {d.Merged} && find . | sort");
            Assert.Equal([".", "./added", "./keep", "./opq", "./opq/new"], listing.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
        finally { await Tree.Run("rm", "-rf", d.Base); }
    }

    [Fact]
    public async Task UpperDirsOfARootlessKernelOverlayConvertToOciChanges()
    {
        var d = Prepare();
        try
        {
            await Own(d.Base);
            await InUserNamespace(d, $"cd {d.Merged} && rm gone && rm -r gonedir opq && mkdir opq && echo fresh > opq/fresh && echo more >> keep");
            var (_, blob) = await Tree.WriteLayer(new OverlayUpperLayerSource(d.Upper));
            var names = (await Tree.ReadEntries(blob)).Select(e => $"{e.Kind} {e.Name}").ToList();
            Assert.Equal(["File .wh.gone", "File .wh.gonedir", "File keep", "Directory opq", "File opq/.wh..wh..opq", "File opq/fresh"], names);

            // Applied onto a copy of lower, the layer gives what the merged view showed.
            var target = Path.Combine(d.Base, "target");
            await TreeCopy.CopyAsync(d.Lower, target);
            await Tree.Apply(blob, target);
            Assert.Equal("keepmore\n", File.ReadAllText(Path.Combine(target, "keep")));
            Assert.False(File.Exists(Path.Combine(target, "gone")));
            Assert.False(Directory.Exists(Path.Combine(target, "gonedir")));
            Assert.Equal(["fresh"], Directory.GetFileSystemEntries(Path.Combine(target, "opq")).Select(Path.GetFileName));
        }
        finally { await Tree.Run("rm", "-rf", d.Base); }
    }
}
