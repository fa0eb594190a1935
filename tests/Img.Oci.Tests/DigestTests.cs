using System.Text;
using Img.Oci;

namespace Img.Oci.Tests;

public sealed class DigestTests
{
    [Fact]
    public void ComputesSha256OfBytes()
    {
        var d = Digest.Compute(Encoding.ASCII.GetBytes("hello"));
        Assert.Equal("sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", d.ToString());
        Assert.Equal("2cf24dba5fb0", d.Short);
    }

    [Theory]
    [InlineData("sha256:abc")]
    [InlineData("md5:d41d8cd98f00b204e9800998ecf8427e")]
    [InlineData("sha256:ZZ24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")]
    [InlineData("sha256:2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824")]
    [InlineData("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")]
    public void RejectsMalformedDigests(string s) => Assert.False(Digest.TryParse(s, out _));

    [Fact]
    public async Task StreamAndSpanAgree()
    {
        var data = new byte[3 << 20];
        new Random(7).NextBytes(data);
        Assert.Equal(Digest.Compute(data), await Digest.ComputeAsync(new MemoryStream(data)));
    }
}
