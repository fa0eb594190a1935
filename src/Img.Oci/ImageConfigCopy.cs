namespace Img.Oci;

/// <summary>
/// Deep copies of an image config without a JSON round trip, for code that changes a config by making a new one
/// (a Dockerfile's config instructions, one per line). Maps keep their comparer, so the copy serialises as the original.
/// </summary>
public static class ImageConfigCopy
{
    /// <summary>A copy that shares nothing changeable with <paramref name="c"/>.</summary>
    public static ImageConfig Copy(this ImageConfig c) => new()
    {
        Created = c.Created,
        Author = c.Author,
        Architecture = c.Architecture,
        Variant = c.Variant,
        OS = c.OS,
        OSVersion = c.OSVersion,
        Config = c.Config.Copy(),
        RootFs = new RootFs { Type = c.RootFs.Type, DiffIds = [.. c.RootFs.DiffIds] },
        History = c.History?.Select(h => new History
        {
            Created = h.Created, CreatedBy = h.CreatedBy, Author = h.Author, Comment = h.Comment, EmptyLayer = h.EmptyLayer,
        }).ToList(),
        Extra = c.Extra is null ? null : new(c.Extra, c.Extra.Comparer), // JsonElement values are immutable
    };

    /// <summary>A copy that shares nothing changeable with <paramref name="c"/>.</summary>
    public static ContainerConfig Copy(this ContainerConfig c) => new()
    {
        User = c.User,
        ExposedPorts = c.ExposedPorts is null ? null : new(c.ExposedPorts, c.ExposedPorts.Comparer),
        Env = c.Env is null ? null : [.. c.Env],
        Entrypoint = c.Entrypoint is null ? null : [.. c.Entrypoint],
        Cmd = c.Cmd is null ? null : [.. c.Cmd],
        Volumes = c.Volumes is null ? null : new(c.Volumes, c.Volumes.Comparer),
        WorkingDir = c.WorkingDir,
        Labels = c.Labels is null ? null : new(c.Labels, c.Labels.Comparer),
        StopSignal = c.StopSignal,
        ArgsEscaped = c.ArgsEscaped,
        Healthcheck = c.Healthcheck is not { } h ? null : new HealthConfig
        {
            Test = h.Test is null ? null : [.. h.Test],
            Interval = h.Interval, Timeout = h.Timeout, StartPeriod = h.StartPeriod, StartInterval = h.StartInterval, Retries = h.Retries,
        },
        OnBuild = c.OnBuild is null ? null : [.. c.OnBuild],
        Shell = c.Shell is null ? null : [.. c.Shell],
        Extra = c.Extra is null ? null : new(c.Extra, c.Extra.Comparer),
    };
}
