using Img.Oci;
using Img.Runtime.Emulation;

namespace Img.Runtime.Tests;

/// <summary>Reading binfmt_misc tables (entries as Debian's qemu-user-static 7.2 registers them) and what RUN may start.</summary>
public sealed class BinfmtMiscTests : IDisposable
{
    private const string Aarch64 = """
        enabled
        interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P
        flags: PF
        offset 0
        magic 7f454c460201010000000000000000000200b700
        mask ffffffffffffff00fffffffffffffffffeffffff

        """;

    // Registered without F (older binfmt-support or a hand-made entry): the interpreter is looked up in the container.
    private const string S390xWithoutF = """
        enabled
        interpreter /usr/bin/qemu-s390x-static
        flags: 
        offset 0
        magic 7f454c4602020100000000000000000000020016
        mask fffffffffffffffcfffffffffffffffffffeffff
        """;

    private const string Riscv64Disabled = """
        disabled
        interpreter /usr/libexec/qemu-binfmt/riscv64-binfmt-P
        flags: PF
        offset 0
        magic 7f454c460201010000000000000000000200f300
        mask ffffffffffffff00fffffffffffffffffeffffff
        """;

    private const string Mipsel = """
        enabled
        interpreter /usr/libexec/qemu-binfmt/mipsel-binfmt-P
        flags: PF
        offset 0
        magic 7f454c46010101000000000000000000020008000000000000000000000000000000000000
        mask ffffffffffffff00fefffffffffffffffeffffff0000000000000000000000000000000020
        """;

    private const string Python = """
        enabled
        interpreter /usr/bin/python3.11
        flags: 
        offset 0
        magic a70d0d0a
        """;

    private static readonly Platform Amd64Host = Platform.Parse("linux/amd64");
    private readonly string _dir = Directory.CreateTempSubdirectory("img-binfmt").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private BinfmtMisc Table(string status, params (string Name, string Text)[] entries)
    {
        File.WriteAllText(Path.Combine(_dir, "status"), status + "\n");
        File.WriteAllText(Path.Combine(_dir, "register"), "");
        foreach (var (name, text) in entries) File.WriteAllText(Path.Combine(_dir, name), text);
        return BinfmtMisc.Read(_dir);
    }

    [Fact]
    public void Parses_an_entry_and_matches_only_its_architecture()
    {
        var e = BinfmtEntry.Parse("qemu-aarch64", Aarch64);
        Assert.True(e.Enabled);
        Assert.True(e.FixBinary);
        Assert.Equal("/usr/libexec/qemu-binfmt/aarch64-binfmt-P", e.Interpreter);
        Assert.Equal(0, e.Offset);
        Assert.Equal(20, e.Magic!.Length);
        Assert.True(e.Matches(ElfArch.Of(Platform.Parse("linux/arm64"))!.Header()));
        Assert.False(e.Matches(ElfArch.Of(Platform.Parse("linux/amd64"))!.Header()));
        Assert.False(e.Matches(ElfArch.Of(Platform.Parse("linux/arm64be"))!.Header()));
        Assert.False(e.Matches(ElfArch.Of(Platform.Parse("linux/arm/v7"))!.Header()));
    }

    [Fact]
    public void The_mask_distinguishes_mips_o32_from_n32()
    {
        var e = BinfmtEntry.Parse("qemu-mipsel", Mipsel);
        Assert.True(e.Matches(ElfArch.Of(Platform.Parse("linux/mipsle"))!.Header()));
        var n32 = ElfArch.Of(Platform.Parse("linux/mipsle"))!.Header();
        n32[36] = 0x20; // EF_MIPS_ABI2: the low byte of e_flags (offset 36, little-endian)
        Assert.False(e.Matches(n32));
    }

    [Fact]
    public void Reads_a_table_skipping_status_and_register()
    {
        var table = Table("enabled", ("qemu-aarch64", Aarch64), ("python3.11", Python), ("qemu-s390x", S390xWithoutF));
        Assert.True(table.Mounted);
        Assert.True(table.Enabled);
        Assert.Equal(["python3.11", "qemu-aarch64", "qemu-s390x"], table.Entries.Select(e => e.Name));
        Assert.False(table.Entries[2].FixBinary);
    }

    [Fact]
    public void Native_platforms_need_no_handler()
    {
        var empty = Table("enabled");
        Assert.Null(Emulators.WhyCannotRun(Platform.Parse("linux/amd64"), Amd64Host, empty));
        Assert.Null(Emulators.WhyCannotRun(Platform.Parse("linux/amd64/v3"), Amd64Host, empty));
        Assert.Null(Emulators.WhyCannotRun(Platform.Parse("linux/386"), Amd64Host, empty));
        Assert.Null(Emulators.WhyCannotRun(Platform.Parse("linux/arm/v6"), Platform.Parse("linux/arm/v7"), empty));
        Assert.NotNull(Emulators.WhyCannotRun(Platform.Parse("linux/arm/v7"), Platform.Parse("linux/arm/v6"), empty));
    }

    [Fact]
    public void A_handler_with_F_runs_foreign_programs()
    {
        var table = Table("enabled", ("qemu-aarch64", Aarch64), ("qemu-mipsel", Mipsel));
        Assert.Null(Emulators.WhyCannotRun(Platform.Parse("linux/arm64"), Amd64Host, table));
        Assert.Null(Emulators.WhyCannotRun(Platform.Parse("linux/arm64/v8"), Amd64Host, table));
        Assert.Null(Emulators.WhyCannotRun(Platform.Parse("linux/mipsle"), Amd64Host, table));
    }

    [Fact]
    public void Each_missing_piece_is_named()
    {
        var table = Table("enabled", ("qemu-aarch64", Aarch64), ("qemu-s390x", S390xWithoutF), ("qemu-riscv64", Riscv64Disabled), ("python3.11", Python));
        Assert.Equal("RUN for linux/ppc64le needs an emulator: no binfmt_misc handler for ppc64le with the F flag; install qemu-user-static",
            Emulators.WhyCannotRun(Platform.Parse("linux/ppc64le"), Amd64Host, table));
        Assert.Equal("RUN for linux/arm/v7 needs an emulator: no binfmt_misc handler for arm with the F flag; install qemu-user-static",
            Emulators.WhyCannotRun(Platform.Parse("linux/arm/v7"), Amd64Host, table));
        var s390x = Emulators.WhyCannotRun(Platform.Parse("linux/s390x"), Amd64Host, table);
        Assert.StartsWith("RUN for linux/s390x needs an emulator: the binfmt_misc handler qemu-s390x for s390x lacks the F flag", s390x);
        var riscv = Emulators.WhyCannotRun(Platform.Parse("linux/riscv64"), Amd64Host, table);
        Assert.Equal("RUN for linux/riscv64 needs an emulator: the binfmt_misc handler qemu-riscv64 for riscv64 is disabled; as root, run `echo 1 > /proc/sys/fs/binfmt_misc/qemu-riscv64`", riscv);
        Assert.Equal("RUN for windows/amd64 cannot run on a linux host", Emulators.WhyCannotRun(Platform.Parse("windows/amd64"), Amd64Host, table));
    }

    [Fact]
    public void The_whole_table_can_be_off()
    {
        var off = Table("disabled", ("qemu-aarch64", Aarch64));
        Assert.Contains("binfmt_misc is disabled", Emulators.WhyCannotRun(Platform.Parse("linux/arm64"), Amd64Host, off));
        var unmounted = BinfmtMisc.Read(Path.Combine(_dir, "absent"));
        Assert.False(unmounted.Mounted);
        Assert.Contains("binfmt_misc is not mounted", Emulators.WhyCannotRun(Platform.Parse("linux/arm64"), Amd64Host, unmounted));
        Assert.Null(Emulators.WhyCannotRun(Platform.Parse("linux/amd64"), Amd64Host, unmounted));
    }
}
