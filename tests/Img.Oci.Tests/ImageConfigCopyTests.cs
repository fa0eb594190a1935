using System.Text.Json;
using Img.Oci;

namespace Img.Oci.Tests;

public class ImageConfigCopyTests
{
    private static ImageConfig Full() => OciJson.Deserialize<ImageConfig>("""
        {"created":"2024-01-02T03:04:05.5Z","author":"a","architecture":"arm","variant":"v7","os":"linux","os.version":"1",
         "config":{"User":"u","ExposedPorts":{"80/tcp":{}},"Env":["A=1"],"Entrypoint":["e"],"Cmd":["c"],"Volumes":{"/v":{}},
           "WorkingDir":"/w","Labels":{"B":"1","a":"2"},"StopSignal":"SIGTERM","ArgsEscaped":true,
           "Healthcheck":{"Test":["CMD","true"],"Interval":1,"Timeout":2,"StartPeriod":3,"StartInterval":4,"Retries":5},
           "OnBuild":["RUN x"],"Shell":["/bin/sh","-c"],"x-unknown":{"k":[1]}},
         "rootfs":{"type":"layers","diff_ids":["sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]},
         "history":[{"created":"2024-01-02T03:04:05Z","created_by":"x","author":"y","comment":"z","empty_layer":true}],
         "x-top":"kept"}
        """u8.ToArray());

    [Fact]
    public void TheCopySerialisesAsTheOriginal()
    {
        var original = Full();
        Assert.Equal(OciJson.Serialize(original), OciJson.Serialize(original.Copy()));
    }

    [Fact]
    public void EveryPropertyIsSetInTheSampleSoANewOneMustBeCopiedToo()
    {
        var original = Full();
        foreach (var owner in new object[] { original, original.Config, original.Config.Healthcheck!, original.History![0], original.RootFs })
            foreach (var p in owner.GetType().GetProperties().Where(p => p.CanWrite))
                Assert.False(p.GetValue(owner) is null or false or 0L or 0, $"{owner.GetType().Name}.{p.Name} is not set in the sample");
    }

    [Fact]
    public void ChangingTheCopyLeavesTheOriginal()
    {
        var original = Full();
        var before = OciJson.Serialize(original);
        var copy = original.Copy();
        copy.Config.Env!.Add("B=2");
        copy.Config.Labels!["c"] = "3";
        copy.Config.ExposedPorts!["53/udp"] = EmptyObject.Instance;
        copy.Config.Healthcheck!.Test!.Add("x");
        copy.History![0].Created = null;
        copy.History.Add(new History { CreatedBy = "more" });
        copy.RootFs.DiffIds.Clear();
        copy.Config.Extra!.Clear();
        Assert.Equal(before, OciJson.Serialize(original));
        Assert.Equal(original.Config.Labels!.Comparer, copy.Config.Labels.Comparer);
    }
}
