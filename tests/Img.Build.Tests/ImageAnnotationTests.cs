using Img.Build;

namespace Img.Build.Tests;

public class ImageAnnotationTests
{
    [Theory]
    [InlineData("k=v", AnnotationTargets.Manifest, "k", "v")]
    [InlineData("org.opencontainers.image.source=https://x/y?a=b", AnnotationTargets.Manifest, "org.opencontainers.image.source", "https://x/y?a=b")]
    [InlineData("index:k=v", AnnotationTargets.Index, "k", "v")]
    [InlineData("manifest,index:k=", AnnotationTargets.Manifest | AnnotationTargets.Index, "k", "")]
    [InlineData("manifest-descriptor:k=v", AnnotationTargets.ManifestDescriptor, "k", "v")]
    public void ParsesBuildxSyntax(string value, AnnotationTargets targets, string key, string v) =>
        Assert.Equal(new ImageAnnotation(targets, key, v), ImageAnnotation.Parse(value));

    [Theory]
    [InlineData("novalue", "invalid annotation novalue: want [type:]key=value")]
    [InlineData("index:=v", "invalid annotation index:=v: empty key")]
    [InlineData("layer:k=v", "invalid annotation layer:k=v: unknown type \"layer\" (manifest, index, manifest-descriptor)")]
    [InlineData("manifest[linux/amd64]:k=v", "invalid annotation manifest[linux/amd64]:k=v: per-platform annotation types are not supported; the annotation applies to every platform")]
    public void RefusesWhatItCannotWrite(string value, string message) =>
        Assert.Equal(message, Assert.Throws<FormatException>(() => ImageAnnotation.Parse(value)).Message);

    [Fact]
    public void ForPicksOneTargetAndLaterValuesWin()
    {
        var all = new[] { "a=1", "index:b=2", "manifest,index:a=3" }.Select(ImageAnnotation.Parse).ToList();
        Assert.Equal(new Dictionary<string, string> { ["a"] = "3" }, ImageAnnotation.For(all, AnnotationTargets.Manifest));
        Assert.Equal(new Dictionary<string, string> { ["a"] = "3", ["b"] = "2" }, ImageAnnotation.For(all, AnnotationTargets.Index));
        Assert.Null(ImageAnnotation.For(all, AnnotationTargets.ManifestDescriptor));
    }
}
