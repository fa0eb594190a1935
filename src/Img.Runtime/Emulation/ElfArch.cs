using Img.Oci;

namespace Img.Runtime.Emulation;

/// <summary>How a Linux executable for one architecture begins: ELF class, byte order and machine number.</summary>
/// <param name="Name">The architecture as qemu and the kernel name it (<c>aarch64</c>, <c>x86_64</c> …).</param>
/// <param name="Is64">ELFCLASS64 (else ELFCLASS32).</param>
/// <param name="BigEndian">ELFDATA2MSB (else ELFDATA2LSB).</param>
/// <param name="Machine">The <c>e_machine</c> value.</param>
public sealed record ElfArch(string Name, bool Is64, bool BigEndian, ushort Machine)
{
    /// <summary>The ELF identity of <paramref name="platform"/>'s executables, or null for a platform that has none (not linux, or unknown).</summary>
    public static ElfArch? Of(Platform platform)
    {
        if (platform.OS != "linux") return null;
        return Platform.Normalize(platform).Architecture switch
        {
            "amd64" => new ElfArch("x86_64", true, false, 62),
            "386" => new ElfArch("i386", false, false, 3),
            "arm64" => new ElfArch("aarch64", true, false, 183),
            "arm64be" => new ElfArch("aarch64_be", true, true, 183),
            "arm" => new ElfArch("arm", false, false, 40),
            "armbe" => new ElfArch("armeb", false, true, 40),
            "ppc64le" => new ElfArch("ppc64le", true, false, 21),
            "ppc64" => new ElfArch("ppc64", true, true, 21),
            "s390x" => new ElfArch("s390x", true, true, 22),
            "riscv64" => new ElfArch("riscv64", true, false, 243),
            "mips64le" => new ElfArch("mips64el", true, false, 8),
            "mips64" => new ElfArch("mips64", true, true, 8),
            "mipsle" => new ElfArch("mipsel", false, false, 8),
            "mips" => new ElfArch("mips", false, true, 8),
            "loong64" => new ElfArch("loongarch64", true, false, 258),
            "sparc64" => new ElfArch("sparc64", true, true, 43),
            _ => null,
        };
    }

    /// <summary>
    /// The first 64 bytes of a typical static executable (ET_EXEC, version 1, the rest zero): what binfmt_misc
    /// magic handlers compare. Zero flags select the default ABI where a handler looks further (mips o32 vs n32).
    /// </summary>
    public byte[] Header()
    {
        var h = new byte[64];
        h[0] = 0x7f; h[1] = (byte)'E'; h[2] = (byte)'L'; h[3] = (byte)'F';
        h[4] = Is64 ? (byte)2 : (byte)1;
        h[5] = BigEndian ? (byte)2 : (byte)1;
        h[6] = 1;
        Put16(h, 16, 2); // e_type ET_EXEC
        Put16(h, 18, Machine);
        return h;
    }

    private void Put16(byte[] h, int at, ushort value)
    {
        h[at + (BigEndian ? 1 : 0)] = (byte)(value & 0xff);
        h[at + (BigEndian ? 0 : 1)] = (byte)(value >> 8);
    }
}
