using Img.Dockerfile;
using Img.Dockerfile.Checks;

namespace Img.Dockerfile.Tests;

public sealed class BuildCheckTests
{
    private static readonly Dictionary<string, IReadOnlyList<string>> s_images = new()
    {
        ["alpine"] = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"],
    };

    private static IReadOnlyList<CheckWarning> Check(string dockerfile, Dictionary<string, string>? buildArgs = null)
    {
        var document = DockerfileDocument.Parse(dockerfile);
        var args = buildArgs ?? [];
        var input = new CheckInput(document, args, name => s_images.TryGetValue(name, out var env) ? env : null);
        return DockerfileLinter.Check(input, DockerfileLinter.Settings(document, args));
    }

    [Theory]
    [InlineData("FROM alpine AS Builder\n", "StageNameCasing", "Stage name 'Builder' should be lowercase", 1)]
    [InlineData("FROM alpine as builder\n", "FromAsCasing", "'as' and 'FROM' keywords' casing do not match", 1)]
    [InlineData("from alpine AS builder\n", "FromAsCasing", "'AS' and 'from' keywords' casing do not match", 1)]
    [InlineData("FROM alpine\nRUN true\nrun true\nCOPY a b\n", "ConsistentInstructionCasing", "Command 'run' should match the case of the command majority (uppercase)", 3)]
    [InlineData("FROM alpine AS a\nFROM alpine AS a\n", "DuplicateStageName", "Duplicate stage name \"a\", stage names should be unique", 2)]
    [InlineData("FROM alpine AS scratch\n", "ReservedStageName", "Stage name should not use the same name as reserved stage \"scratch\"", 1)]
    [InlineData("FROM alpine\nCMD echo hi\n", "JSONArgsRecommended", "JSON arguments recommended for CMD to prevent unintended behavior related to OS signals", 2)]
    [InlineData("FROM alpine\nENTRYPOINT run me\n", "JSONArgsRecommended", "JSON arguments recommended for ENTRYPOINT to prevent unintended behavior related to OS signals", 2)]
    [InlineData("FROM alpine\nMAINTAINER me\n", "MaintainerDeprecated", "Maintainer instruction is deprecated in favor of using label", 2)]
    [InlineData("ARG VERSION=1\nFROM alpine:${VERSIN}\n", "UndefinedArgInFrom", "FROM argument 'VERSIN' is not declared (did you mean VERSION?)", 2)]
    [InlineData("FROM alpine\nWORKDIR app\n", "WorkdirRelativePath", "Relative workdir \"app\" can have unexpected results if the base image changes", 2)]
    [InlineData("FROM alpine\nARG NAME=x\nCOPY $NAM /dest\n", "UndefinedVar", "Usage of undefined variable '$NAM' (did you mean $NAME?)", 3)]
    [InlineData("FROM alpine\nENV KEY value\n", "LegacyKeyValueFormat", "\"ENV key=value\" should be used instead of legacy \"ENV key value\" format", 2)]
    [InlineData("FROM alpine\nLABEL maintainer me\n", "LegacyKeyValueFormat", "\"LABEL key=value\" should be used instead of legacy \"LABEL key value\" format", 2)]
    [InlineData("FROM alpine\nARG GITHUB_TOKEN\n", "SecretsUsedInArgOrEnv", "Do not use ARG or ENV instructions for sensitive data (ARG \"GITHUB_TOKEN\")", 2)]
    [InlineData("FROM alpine\nENV DB_PASSWORD=x\n", "SecretsUsedInArgOrEnv", "Do not use ARG or ENV instructions for sensitive data (ENV \"DB_PASSWORD\")", 2)]
    [InlineData("FROM alpine\nRUN echo a \\\n\n  b\n", "NoEmptyContinuation", "Empty continuation line", 4)]
    [InlineData("FROM alpine\nCMD [\"a\"]\nCMD [\"b\"]\n", "MultipleInstructionsDisallowed", "Multiple CMD instructions should not be used in the same stage because only the last one will be used", 2)]
    [InlineData("FROM --platform=$TARGETPLATFORM alpine\n", "RedundantTargetPlatform", "Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior", 1)]
    public void EachRuleFindsItsCase(string dockerfile, string rule, string detail, int line)
    {
        var found = Check(dockerfile);
        var warning = Assert.Single(found, w => w.Rule.Name == rule);
        Assert.Equal(detail, warning.Detail);
        Assert.Equal(line, warning.StartLine);
        Assert.StartsWith("https://docs.docker.com/go/dockerfile/rule/", warning.Rule.Url);
    }

    [Fact]
    public void ACleanDockerfileHasNothing()
    {
        Assert.Empty(Check("""
            # syntax=docker/dockerfile:1
            ARG BASE=alpine
            FROM ${BASE} AS build
            ARG TARGETARCH
            ENV APP_HOME=/srv/app PUBLIC_KEY=abc
            WORKDIR $APP_HOME
            COPY --chown=1:1 src/ ./src/
            RUN echo $UNDECLARED_IN_RUN_IS_THE_SHELLS
            FROM alpine
            WORKDIR /app
            COPY --from=build /srv/app /app
            LABEL org.opencontainers.image.title="x"
            ENTRYPOINT ["/app/run"]
            CMD ["--help"]
            """));
    }

    [Fact]
    public void VariablesFromStagesAndBaseImagesAreDefinedAndUnknownBasesAreNotJudged()
    {
        Assert.Empty(Check("FROM alpine AS a\nENV FROM_A=1\nFROM a\nCOPY $FROM_A $HOME /x\n"));
        Assert.Empty(Check("FROM unknown/image\nCOPY $WHATEVER /x\n"));
        var fromArgOfParent = Check("FROM alpine AS a\nARG ONLY_IN_A=1\nFROM a\nCOPY $ONLY_IN_A /x\n");
        Assert.Equal("Usage of undefined variable '$ONLY_IN_A'", Assert.Single(fromArgOfParent).Detail);
        Assert.Single(Check("FROM scratch\nCOPY $NOPE /x\n"), w => w.Rule.Name == "UndefinedVar");
    }

    [Fact]
    public void CheckDirectiveSkipsRulesAndTheBuildArgWins()
    {
        const string Dockerfile = "# check=skip=JSONArgsRecommended,StageNameCasing\nFROM alpine AS Build\nCMD x\nMAINTAINER me\n";
        var left = Check(Dockerfile);
        Assert.Equal(["MaintainerDeprecated"], left.Select(w => w.Rule.Name));
        Assert.Empty(Check(Dockerfile, new() { [DockerfileLinter.CheckBuildArg] = "skip=all" }));

        var settings = DockerfileLinter.Settings(DockerfileDocument.Parse("# check=error=true\nFROM alpine\n"), new Dictionary<string, string>());
        Assert.True(settings.Error);
        Assert.False(settings.SkipAll);
        Assert.Throws<DockerfileException>(() => CheckSettings.Parse("skip=x;bogus=1"));
        Assert.Throws<DockerfileException>(() => CheckSettings.Parse("error=maybe"));
    }

    [Fact]
    public void WarningsComeInLineOrderWithTheBuildSummaryForm()
    {
        var found = Check("FROM alpine as Build\nCMD x\n");
        Assert.Equal(["FromAsCasing", "StageNameCasing", "JSONArgsRecommended"], found.Select(w => w.Rule.Name));
        Assert.Equal("JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals (line 2)", found[2].ToString());
    }

    [Theory]
    [InlineData("API_KEY", true)]
    [InlineData("apikey", true)]
    [InlineData("AWS_SECRET_ACCESS_KEY", true)]
    [InlineData("PUBLIC_KEY", false)]
    [InlineData("KEYBOARD", false)]
    [InlineData("MONKEY", false)]
    public void SecretNamesFollowBuildKit(string name, bool secret) => Assert.Equal(secret, SecretsUsedInArgOrEnvCheck.IsSecretName(name));
}
