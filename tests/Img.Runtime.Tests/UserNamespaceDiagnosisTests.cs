using Img.Runtime.Namespaces;

namespace Img.Runtime.Tests;

public sealed class UserNamespaceDiagnosisTests
{
    [Theory]
    [InlineData("unshare: unshare failed: Operation not permitted", 2, null, "seccomp=unconfined")]
    [InlineData("unshare: unshare failed: Operation not permitted", 0, "0", "kernel.unprivileged_userns_clone=1")]
    [InlineData("unshare: unshare failed: Operation not permitted", 0, null, "SELinux or AppArmor")]
    [InlineData("newuidmap: write to uid_map failed: Operation not permitted", 2, null, "setcap cap_setuid+ep")]
    [InlineData("unshare: unshare failed: No space left on device", 0, null, "user.max_user_namespaces")]
    [InlineData("unshare: failed to execute newuidmap: No such file or directory", 0, null, "install the uidmap package")]
    public void Each_refusal_names_its_cause_and_fix(string stderr, int seccomp, string? usernsClone, string fix)
    {
        var facts = new UserNamespaceDiagnosis.Facts(seccomp, usernsClone, null, "15000", NewuidmapSetuid: true, InContainer: true);
        var line = UserNamespaceDiagnosis.Explain(stderr, facts);
        Assert.Contains(fix, line);
        // The sysctl hint appears only where the kernel has that sysctl.
        if (usernsClone is null) Assert.DoesNotContain("unprivileged_userns_clone", line);
    }
}
