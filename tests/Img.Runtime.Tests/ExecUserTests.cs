using Img.Runtime.Oci;

namespace Img.Runtime.Tests;

public sealed class ExecUserTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("img-execuser").FullName;

    public ExecUserTests()
    {
        Directory.CreateDirectory(Path.Combine(_root, "etc"));
        File.WriteAllText(Path.Combine(_root, "etc", "passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n");
        File.WriteAllText(Path.Combine(_root, "etc", "group"), "root:x:0:\napp:x:1000:\nextra:x:2000:app,other\nwheel:x:10:root\n");
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Theory]
    [InlineData(null, 0u, 0u, "0,10", "/root")]
    [InlineData("", 0u, 0u, "0,10", "/root")]
    [InlineData("app", 1000u, 1000u, "1000,2000", "/home/app")]
    [InlineData("1000", 1000u, 1000u, "1000,2000", "/home/app")]
    [InlineData("1000:1000", 1000u, 1000u, "1000", "/home/app")]
    [InlineData("app:extra", 1000u, 2000u, "2000", "/home/app")]
    [InlineData("4242", 4242u, 0u, "0", "/")]
    [InlineData("4242:4343", 4242u, 4343u, "4343", "/")]
    [InlineData("nobody", 65534u, 65534u, "65534", "/nonexistent")]
    public void Resolves_users_like_docker(string? user, uint uid, uint gid, string gids, string home)
    {
        var u = ExecUser.Resolve(_root, user);
        Assert.Equal(uid, u.Uid);
        Assert.Equal(gid, u.Gid);
        Assert.Equal(gids, string.Join(',', u.AdditionalGids));
        Assert.Equal(home, u.Home);
    }

    [Fact]
    public void Unknown_user_name_is_a_clear_error()
    {
        var e = Assert.Throws<InvalidOperationException>(() => ExecUser.Resolve(_root, "ghost"));
        Assert.Equal("unable to find user ghost: no matching entries in passwd file", e.Message);
    }

    [Fact]
    public void Unknown_group_name_is_a_clear_error()
    {
        var e = Assert.Throws<InvalidOperationException>(() => ExecUser.Resolve(_root, "app:ghosts"));
        Assert.Equal("unable to find group ghosts: no matching entries in group file", e.Message);
    }
}
