using Img.Runtime.Namespaces;
using Img.TestSupport;

namespace Img.Runtime.Tests;

/// <summary>How newuidmap/newgidmap are privileged: the setuid bit, or cap_setuid/cap_setgid in security.capability.</summary>
public sealed class IdMapperTests
{
    [Fact]
    public void The_installed_newuidmap_is_described_by_its_own_mode()
    {
        var setuid = (File.GetUnixFileMode("/usr/bin/newuidmap") & UnixFileMode.SetUser) != 0;
        if (setuid) Assert.Equal(IdMapperPrivilege.Setuid, IdMapper.Of("newuidmap"));
        else Assert.NotEqual(IdMapperPrivilege.Setuid, IdMapper.Of("newuidmap"));
        Assert.Equal(IdMapperPrivilege.Missing, IdMapper.Of("/nonexistent/newuidmap"));
    }

    [SetcapFact]
    public async Task File_capabilities_are_read_from_the_security_capability_xattr()
    {
        var dir = Directory.CreateTempSubdirectory("img-idmapper-").FullName;
        try
        {
            var uidmap = Path.Combine(dir, "newuidmap");
            var gidmap = Path.Combine(dir, "newgidmap");
            File.Copy("/usr/bin/newuidmap", uidmap);
            File.Copy("/usr/bin/newgidmap", gidmap);
            Assert.Equal(IdMapperPrivilege.None, IdMapper.Of(uidmap)); // a copy loses the setuid bit
            (await ProcessRunner.RunAsync("setcap", ["cap_setuid+ep", uidmap])).EnsureSuccess("setcap");
            (await ProcessRunner.RunAsync("setcap", ["cap_setuid+ep", gidmap])).EnsureSuccess("setcap");
            Assert.Equal(IdMapperPrivilege.FileCapabilities, IdMapper.Of(uidmap));
            // newgidmap needs cap_setgid: cap_setuid alone is not enough for it.
            Assert.Equal(IdMapperPrivilege.None, IdMapper.Of(gidmap));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData(new byte[] { 0x01, 0x00, 0x00, 0x02, 0x80, 0x00, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, 7, true)]
    [InlineData(new byte[] { 0x01, 0x00, 0x00, 0x02, 0x80, 0x00, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, 6, false)]
    [InlineData(new byte[] { 0x01, 0x00, 0x00, 0x02, 0x40, 0x00, 0x00, 0x00, 0, 0, 0, 0 }, 6, true)]
    [InlineData(new byte[] { 0x01, 0x00 }, 7, false)]
    public void Permitted_bits_of_vfs_cap_data(byte[] value, int capability, bool permitted) =>
        Assert.Equal(permitted, IdMapper.PermitsCapability(value, capability));
}

/// <summary>A fact that sets file capabilities, which only root may (tools/test.sh runs the tests as root): skipped, with the reason, otherwise.</summary>
public sealed class SetcapFactAttribute : FactAttribute
{
    public SetcapFactAttribute()
    {
        if (!TestUser.RunningAsRoot) Skip = "needs root: setcap writes security.capability";
    }
}
