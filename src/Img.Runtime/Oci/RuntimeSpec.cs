using System.Text.Json.Serialization;

namespace Img.Runtime.Oci;

// The subset of the OCI runtime spec (config.json) a RUN step needs.

internal sealed record RuntimeSpec(
    string OciVersion, SpecProcess Process, SpecRoot Root, string Hostname, IReadOnlyList<SpecMount> Mounts, SpecLinux Linux);

internal sealed record SpecProcess(
    bool Terminal, SpecUser User, IReadOnlyList<string> Args, IReadOnlyList<string> Env, string Cwd,
    SpecCapabilities Capabilities, IReadOnlyList<SpecRlimit> Rlimits, bool NoNewPrivileges);

internal sealed record SpecUser(uint Uid, uint Gid, IReadOnlyList<uint> AdditionalGids);

internal sealed record SpecCapabilities(IReadOnlyList<string> Bounding, IReadOnlyList<string> Effective, IReadOnlyList<string> Permitted);

internal sealed record SpecRlimit(string Type, ulong Hard, ulong Soft);

internal sealed record SpecRoot(string Path, bool Readonly);

internal sealed record SpecMount(string Destination, string Type, string Source, IReadOnlyList<string> Options);

internal sealed record SpecLinux(IReadOnlyList<SpecNamespace> Namespaces, IReadOnlyList<string> MaskedPaths, IReadOnlyList<string> ReadonlyPaths);

internal sealed record SpecNamespace(string Type);

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(RuntimeSpec))]
internal sealed partial class RuntimeSpecJsonContext : JsonSerializerContext;
