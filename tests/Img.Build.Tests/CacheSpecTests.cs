using System.Text;
using Img.Build.CacheSharing;

namespace Img.Build.Tests;

public class CacheSpecTests
{
    private static string ExportError(string value) => Assert.Throws<CacheSpecException>(() => CacheSpecs.ParseExport(value)).Message;

    private static string ImportError(string value) => Assert.Throws<CacheSpecException>(() => CacheSpecs.ParseImport(value)).Message;

    [Fact]
    public void RegistryExportDefaultsToModeMin()
    {
        var s = CacheSpecs.ParseExport("type=registry,ref=localhost:5000/cache:x");
        Assert.Equal(CacheType.Registry, s.Type);
        Assert.Equal("localhost:5000/cache:x", s.Ref!.ToString());
        Assert.False(s.Max);
        Assert.False(s.IgnoreError);
        Assert.True(CacheSpecs.ParseExport("type=registry,ref=localhost:5000/cache,mode=max").Max);
        Assert.Equal("localhost:5000/cache:latest", CacheSpecs.ParseExport("type=registry,ref=localhost:5000/cache").Ref!.ToString());
    }

    [Fact]
    public void KeysAreCaseInsensitiveAndQuotedFieldsWork()
    {
        var s = CacheSpecs.ParseExport("\"type=local\",Dest=/tmp/c,MODE=max,tag=v1,ignore-error=true");
        Assert.Equal(CacheType.Local, s.Type);
        Assert.Equal("/tmp/c", s.Dest);
        Assert.Equal("v1", s.Tag);
        Assert.True(s.Max);
        Assert.True(s.IgnoreError);
    }

    [Fact]
    public void LocalDestIsMadeAbsolute() =>
        Assert.Equal(Path.GetFullPath("rel/dir"), CacheSpecs.ParseExport("type=local,dest=rel/dir").Dest);

    [Fact]
    public void InlineNeedsNothingElse()
    {
        var s = CacheSpecs.ParseExport("type=inline");
        Assert.Equal(CacheType.Inline, s.Type);
        Assert.Equal("inline", s.Display);
    }

    [Fact]
    public void BareValuesAreRegistryReferences()
    {
        var to = CacheSpecs.ParseExport("example.com/team/cache:main");
        Assert.Equal(CacheType.Registry, to.Type);
        Assert.Equal("example.com/team/cache:main", to.Ref!.ToString());
        var from = CacheSpecs.ParseImport("example.com/team/app");
        Assert.Equal(CacheType.Registry, from.Type);
        Assert.Equal("example.com/team/app:latest", from.Ref!.ToString());
        Assert.Equal(CacheType.Local, CacheSpecs.ParseImport("type=local,src=/c").Type);
    }

    [Fact]
    public void MissingOrBadPartsAreClearErrors()
    {
        Assert.Equal("--cache-to type=registry: type=registry requires ref=<reference>", ExportError("type=registry"));
        Assert.Equal("--cache-to type=local,mode=max: type=local requires dest=<directory>", ExportError("type=local,mode=max"));
        Assert.Equal("--cache-to type=s3,bucket=b: unknown cache exporter \"s3\" (use registry, local or inline)", ExportError("type=s3,bucket=b"));
        Assert.Equal("--cache-to type=local,dest=d,mode=all: invalid mode \"all\": use min or max", ExportError("type=local,dest=d,mode=all"));
        Assert.Equal("--cache-to type=inline,mode=max: type=inline supports only mode=min", ExportError("type=inline,mode=max"));
        Assert.Equal("--cache-to type=local,dest: invalid value dest", ExportError("type=local,dest"));
        Assert.Equal("--cache-to dest=d,type=: requires type=<type>", ExportError("dest=d,type="));
        Assert.StartsWith("--cache-to type=registry,ref=local:5000/UPPER: invalid reference \"local:5000/UPPER\": ", ExportError("type=registry,ref=local:5000/UPPER"));
        Assert.StartsWith("--cache-to type=local,dest=d,ignore-error=maybe: invalid ignore-error", ExportError("type=local,dest=d,ignore-error=maybe"));
        Assert.Equal("--cache-to type=local,dest=d,tag=a/b: invalid tag \"a/b\"", ExportError("type=local,dest=d,tag=a/b"));

        Assert.Equal("--cache-from type=local: type=local requires src=<directory>", ImportError("type=local"));
        Assert.Equal("--cache-from type=local,dest=/x: type=local requires src=<directory>", ImportError("type=local,dest=/x"));
        Assert.Equal("--cache-from type=registry,mode=max: type=registry requires ref=<reference>", ImportError("type=registry,mode=max"));
        Assert.Equal("--cache-from type=gha: unknown cache importer \"gha\" (use registry or local)", ImportError("type=gha"));
        Assert.StartsWith("--cache-from type=inline: inline cache is read with type=registry", ImportError("type=inline"));
        Assert.Equal("--cache-from: empty value", ImportError(""));
    }

    [Fact]
    public void CacheConfigRoundTripsAndRejectsGarbage()
    {
        var config = new CacheConfig
        {
            Records =
            [
                new CacheEntry { Key = new string('a', 64), Parent = "p", Description = "RUN x", Created = DateTimeOffset.FromUnixTimeSeconds(1700000000) },
                new CacheEntry
                {
                    Key = new string('b', 64), Parent = new string('a', 64),
                    Layer = new CacheLayer { MediaType = "application/vnd.oci.image.layer.v1.tar+gzip", Digest = "sha256:" + new string('c', 64), Size = 5, DiffId = "sha256:" + new string('d', 64) },
                },
            ],
        };
        var back = CacheConfig.Parse(config.ToBytes());
        Assert.Equal(2, back.Records.Count);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1700000000), back.Records[0].Created);
        Assert.Null(back.Records[0].Layer);
        Assert.Equal(5, back.Records[1].Layer!.Size);

        Assert.Throws<FormatException>(() => CacheConfig.Parse("not json"u8));
        Assert.Throws<FormatException>(() => CacheConfig.Parse("null"u8));
        Assert.Throws<FormatException>(() => CacheConfig.Parse("""{"schemaVersion":2,"records":[]}"""u8));
        Assert.Throws<FormatException>(() => CacheConfig.Parse("""{"schemaVersion":1,"records":[{"key":"../x"}]}"""u8));
        var badLayer = Encoding.UTF8.GetBytes("{\"schemaVersion\":1,\"records\":[{\"key\":\"" + new string('a', 64) + "\",\"layer\":{\"mediaType\":\"m\",\"digest\":\"sha256:zz\",\"size\":1,\"diffID\":\"sha256:" + new string('d', 64) + "\"}}]}");
        Assert.Throws<FormatException>(() => CacheConfig.Parse(badLayer));
    }
}
