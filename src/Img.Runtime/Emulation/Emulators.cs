using Img.Oci;

namespace Img.Runtime.Emulation;

/// <summary>
/// Whether RUN can start programs of a platform here: natively, or through a binfmt_misc handler (qemu-user-static)
/// registered with the <c>F</c> flag. Without <c>F</c> the kernel looks the interpreter up inside the container's
/// root, where it is not, and the step would die with "exec format error" or "no such file".
/// </summary>
public static class Emulators
{
    private static readonly Lazy<BinfmtMisc> Table = new(() => BinfmtMisc.Read());

    /// <summary>Null when <paramref name="platform"/>'s programs run on this machine, else the whole reason, naming what to install.</summary>
    public static string? WhyCannotRun(Platform platform) => WhyCannotRun(platform, Platform.Host, Table.Value);

    /// <summary>Null when <paramref name="platform"/>'s programs run on <paramref name="host"/> with <paramref name="table"/>, else the reason.</summary>
    public static string? WhyCannotRun(Platform platform, Platform host, BinfmtMisc table)
    {
        platform = Platform.Normalize(platform);
        host = Platform.Normalize(host);
        if (IsNative(platform, host)) return null;
        var prefix = $"RUN for {platform} needs an emulator: ";
        var arch = ElfArch.Of(platform);
        if (arch is null)
            return platform.OS != "linux"
                ? $"RUN for {platform} cannot run on a {host.OS} host"
                : prefix + $"img does not know the ELF machine of architecture {platform.Architecture}";
        if (!table.Mounted)
            return prefix + $"binfmt_misc is not mounted at {BinfmtMisc.DefaultDirectory}; as root, run `mount -t binfmt_misc binfmt_misc {BinfmtMisc.DefaultDirectory}` and install qemu-user-static";
        if (!table.Enabled)
            return prefix + $"binfmt_misc is disabled; as root, run `echo 1 > {BinfmtMisc.DefaultDirectory}/status`";
        var header = arch.Header();
        var matching = table.Entries.Where(e => e.Matches(header)).ToList();
        if (matching.Any(e => e.Enabled && e.FixBinary)) return null;
        if (matching.FirstOrDefault(e => e.Enabled) is { } noFix)
            return prefix + $"the binfmt_misc handler {noFix.Name} for {arch.Name} lacks the F flag, so its interpreter {noFix.Interpreter} is not found inside the build's root; register it with flags F (Debian's qemu-user-static does)";
        if (matching.FirstOrDefault() is { } disabled)
            return prefix + $"the binfmt_misc handler {disabled.Name} for {arch.Name} is disabled; as root, run `echo 1 > {BinfmtMisc.DefaultDirectory}/{disabled.Name}`";
        return prefix + $"no binfmt_misc handler for {arch.Name} with the F flag; install qemu-user-static";
    }

    /// <summary>The host's own architecture, and 32-bit x86 on x86-64 (the kernel runs it without an emulator).</summary>
    private static bool IsNative(Platform platform, Platform host)
    {
        if (platform.OS != host.OS) return false;
        if (platform.Architecture == host.Architecture)
            return host.Architecture != "arm" || string.CompareOrdinal(platform.Variant, host.Variant) <= 0;
        return host.Architecture == "amd64" && platform.Architecture == "386";
    }
}
