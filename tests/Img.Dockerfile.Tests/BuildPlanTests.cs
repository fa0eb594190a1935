namespace Img.Dockerfile.Tests;

/// <summary>Mirrors dockerfile_args_test.go, the multi-stage/target tests and convert_test.go graph checks.</summary>
public class BuildPlanTests
{
    private static BuildPlan Plan(string dockerfile, Dictionary<string, string>? args = null, string? target = null,
        string platform = "linux/amd64", string buildPlatform = "linux/amd64") =>
        BuildPlan.Create(dockerfile, new BuildOptions
        {
            BuildArgs = args ?? [],
            Target = target,
            TargetPlatform = PlatformInfo.Parse(platform),
            BuildPlatform = PlatformInfo.Parse(buildPlatform),
        });

    /// <summary>Applies every instruction of the target stage and returns the final scope.</summary>
    private static (StageScope Scope, List<Instruction> Expanded) Run(BuildPlan plan, PlannedStage? stage = null, IEnumerable<string>? baseEnv = null)
    {
        stage ??= plan.Target;
        var scope = plan.CreateScope(stage, baseEnv);
        var expanded = stage.Stage.Commands.Select(scope.Apply).ToList();
        return (scope, expanded);
    }

    [Fact]
    public void TestGlobalArg()
    {
        const string df = "ARG tag=latest\nFROM busybox:${tag}\n";
        Assert.Equal("busybox:latest", Plan(df).Target.BaseName);
        Assert.Equal("busybox:1.36", Plan(df, new() { ["tag"] = "1.36" }).Target.BaseName);
    }

    /// <summary>A chain of 31 doubling ARGs once took 14 GB and 105 s: it now stops at the word limit, quickly.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void DoublingArgChainStopsAtTheWordLimit(bool global)
    {
        var lines = new List<string> { "ARG A0=xxxxxxxxxxxxxxxx" };
        for (int i = 1; i <= 31; i++) lines.Add($"ARG A{i}=$A{i - 1}$A{i - 1}");
        var df = global ? string.Join('\n', lines) + "\nFROM busybox\n" : "FROM busybox\n" + string.Join('\n', lines) + "\n";
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var ex = Assert.ThrowsAny<Exception>(() => Run(Plan(df)));
        Assert.True(ex is DockerfileException or ShellExpansionException, ex.ToString());
        Assert.Contains($"longer than {ShellLex.MaxWordLength} characters", ex.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
    }

    [Fact]
    public void TestGlobalArgErrors()
    {
        const string df = "ARG FOO=${FOO:?\"custom error\"}\nFROM busybox\n";
        var ex = Assert.Throws<DockerfileException>(() => Plan(df));
        Assert.Contains("FOO: custom error", ex.Message);
        Assert.Equal(1, ex.Line);
        Assert.Equal("bar", Plan(df, new() { ["FOO"] = "bar" }).MetaArgs["FOO"]);
    }

    [Fact]
    public void TestArgDefaultExpansion()
    {
        const string df = "FROM busybox\nARG FOO\nARG BAR=${FOO:?\"foo missing\"}\n";
        var ex = Assert.Throws<DockerfileException>(() => Run(Plan(df)));
        Assert.Equal("Dockerfile:3: failed to process \"${FOO:?\\\"foo missing\\\"}\": FOO: foo missing", ex.Message);
        var (scope, _) = Run(Plan(df, new() { ["FOO"] = "x" }));
        Assert.Contains("BAR=x", scope.RunEnvironment());
    }

    [Fact]
    public void TestMultiArgs()
    {
        const string df = "ARG a1=1 a2=2 a3\nFROM busybox\nARG a3 a1 b1=\"x y\" b2=$b1\nENV out=\"$a1-$a2-$a3-$b1-$b2\"\n";
        var (scope, _) = Run(Plan(df, new() { ["a3"] = "3" }));
        Assert.Contains("out=1--3-x y-x y", scope.ConfigEnv);
    }

    [Fact]
    public void TestQuotedMetaArgs()
    {
        const string df = "ARG a1=\"box\"\nARG a2=\"$a1-foo\"\nFROM busy$a1 AS build\nARG a2\nENV v=$a2\n";
        var plan = Plan(df);
        Assert.Equal("busybox", plan.Target.BaseName);
        Assert.Contains("v=box-foo", Run(plan).Scope.ConfigEnv);
    }

    [Fact]
    public void TestTargetStageNameArg()
    {
        const string df = "FROM busybox AS base\nENV before=${TARGETSTAGE}\nARG TARGETSTAGE\nENV after=${TARGETSTAGE}\nFROM base AS final\nARG TARGETSTAGE\nENV s=$TARGETSTAGE\n";
        var baseScope = Run(Plan(df, target: "base")).Scope;
        Assert.Contains("before=", baseScope.ConfigEnv);
        Assert.Contains("after=base", baseScope.ConfigEnv);
        Assert.Contains("s=default", Run(Plan(df)).Scope.ConfigEnv);
    }

    [Fact]
    public void TestBuiltinArgs()
    {
        const string df = "FROM busybox\nARG DECLARED\nRUN env\n";
        var plan = Plan(df, new() { ["http_proxy"] = "hpvalue", ["NO_PROXY"] = "npvalue", ["DECLARED"] = "d", ["UNDECLARED"] = "u" });
        var (scope, _) = Run(plan);
        var runEnv = scope.RunEnvironment();
        Assert.Contains("http_proxy=hpvalue", runEnv);
        Assert.Contains("NO_PROXY=npvalue", runEnv);
        Assert.Contains("DECLARED=d", runEnv);
        Assert.DoesNotContain(runEnv, e => e.StartsWith("UNDECLARED", StringComparison.Ordinal));
        Assert.DoesNotContain(scope.ConfigEnv, e => e.Contains("proxy", StringComparison.OrdinalIgnoreCase));
        Assert.Equal(["UNDECLARED"], plan.UnusedBuildArgs);
    }

    [Fact]
    public void UnusedBuildArgsAreSortedAndLeaveOutWhatTheBuilderReads()
    {
        var plan = Plan("ARG META\nFROM busybox\nARG DECLARED\n", new()
        {
            ["ZED"] = "z", ["META"] = "m", ["DECLARED"] = "d", ["ALPHA"] = "a", ["TARGETARCH"] = "t", ["no_proxy"] = "n",
            ["SOURCE_DATE_EPOCH"] = "0", ["BUILDKIT_DOCKERFILE_CHECK"] = "skip=all",
        });
        Assert.Equal(["ALPHA", "ZED"], plan.UnusedBuildArgs);
    }

    [Fact]
    public void TestDefaultEnvWithArgs()
    {
        const string df = "ARG image=idlebox\nFROM busy${image#idle}\nARG my_arg\nENV my_arg=\"my_arg=${my_arg:-def_val}\"\nENV my_trimmed_arg=\"${my_arg%%e*}\"\n";
        var plan = Plan(df);
        Assert.Equal("busybox", plan.Target.BaseName);
        var env = Run(plan).Scope.ConfigEnv;
        Assert.Contains("my_arg=my_arg=def_val", env);
        Assert.Contains("my_trimmed_arg=my_arg=d", env);
        Assert.Contains("my_arg=my_arg=custom", Run(Plan(df, new() { ["my_arg"] = "custom" })).Scope.ConfigEnv);
    }

    [Fact]
    public void TestEmptyStringArgInEnv()
    {
        var (scope, _) = Run(Plan("FROM busybox\nARG FOO\nARG BAR=\nRUN env\n"));
        var env = scope.RunEnvironment();
        Assert.Contains("BAR=", env);
        Assert.DoesNotContain(env, e => e.StartsWith("FOO", StringComparison.Ordinal));
    }

    [Fact]
    public void EnvOverridesArg()
    {
        var (scope, expanded) = Run(Plan("FROM a\nARG X=arg\nENV X=env\nWORKDIR /$X\n"));
        Assert.Equal("/env", Assert.IsType<WorkdirInstruction>(expanded[^1]).Path);
        Assert.Equal(["X=env"], scope.RunEnvironment());
    }

    [Fact]
    public void EnvOnOneLineSeesPreviousState()
    {
        var (scope, _) = Run(Plan("FROM a\nENV abc=hello\nENV abc=bye def=$abc\n"));
        Assert.Equal(["abc=bye", "def=hello"], scope.ConfigEnv);
    }

    [Fact]
    public void TestAddEnv_ReplaceOrAppendKeepsOrder()
    {
        var (scope, _) = Run(Plan("FROM a\nENV B=1 C=2\nENV A=3\nENV B=4\n"), baseEnv: ["PATH=/bin", "C=0"]);
        Assert.Equal(["PATH=/bin", "C=2", "B=4", "A=3"], scope.ConfigEnv);
    }

    [Fact]
    public void TestPlatformArgsImplicit()
    {
        var plan = Plan("FROM build-${TARGETOS}-${TARGETARCH}${TARGETVARIANT}\n", platform: "linux/arm/v7");
        Assert.Equal("build-linux-armv7", plan.Target.BaseName);
    }

    [Fact]
    public void TestPlatformArgsExplicit()
    {
        const string df = "FROM --platform=$BUILDPLATFORM busybox\nENV before=$TARGETPLATFORM\nARG TARGETPLATFORM\nARG TARGETOS\nARG BUILDARCH\nENV t=$TARGETPLATFORM o=$TARGETOS b=$BUILDARCH\n";
        var plan = Plan(df, platform: "darwin/ppc64le", buildPlatform: "linux/arm64");
        Assert.Equal("linux/arm64", plan.Target.Platform);
        var env = Run(plan).Scope.ConfigEnv;
        Assert.Contains("before=", env);
        Assert.Contains("t=darwin/ppc64le", env);
        Assert.Contains("o=darwin", env);
        Assert.Contains("b=arm64", env);
    }

    [Fact]
    public void TestExposeExpansion()
    {
        var (_, expanded) = Run(Plan("FROM a\nARG PORTS=\"3000 4000/udp\"\nEXPOSE $PORTS 5000\n"));
        Assert.Equal(["3000", "4000/udp", "5000"], Assert.IsType<ExposeInstruction>(expanded[^1]).Ports);
        Assert.Throws<DockerfileException>(() => Run(Plan("FROM a\nARG P=nope\nEXPOSE $P\n")));
    }

    [Fact]
    public void TestCopyVarSubstitutionAndChmodExpansion()
    {
        var (_, expanded) = Run(Plan("FROM a\nENV FOO=bar mode=0640 owner=1000\nCOPY --chmod=${mode} --chown=${owner}:${owner} $FOO baz\n"));
        var copy = Assert.IsType<CopyInstruction>(expanded[^1]);
        Assert.Equal(["bar"], copy.Files.SourcePaths);
        Assert.Equal(("0640", "1000:1000"), (copy.Chmod, copy.Chown));
        var ex = Assert.Throws<DockerfileException>(() => Run(Plan("FROM a\nARG mode=64a\nCOPY --chmod=$mode a b\n")));
        Assert.Equal(3, ex.Line);
    }

    [Fact]
    public void TestMountEnvVar()
    {
        var (_, expanded) = Run(Plan("FROM a\nENV CACHE=/cache\nARG SHARING=locked\nRUN --mount=type=cache,target=$CACHE,sharing=$SHARING,mode=0755 make\n"));
        var mount = Assert.Single(Assert.IsType<RunInstruction>(expanded[^1]).Mounts);
        Assert.Equal(("/cache", CacheSharing.Locked, 0x1EDu), (mount.Target, mount.Sharing!.Value, mount.Mode!.Value));
    }

    [Fact]
    public void RunCmdEntrypointAreNotExpanded()
    {
        var (_, expanded) = Run(Plan("FROM a\nENV X=1\nRUN echo $X\nCMD echo $X\n"));
        Assert.Equal(["echo $X"], Assert.IsType<RunInstruction>(expanded[1]).Command.Args);
        Assert.Equal(["echo $X"], Assert.IsType<CmdInstruction>(expanded[2]).Command.Args);
    }

    [Fact]
    public void TestMultiStageCaseInsensitive()
    {
        var plan = Plan("FROM busybox AS STAge0\nRUN x\nFROM scratch\nCOPY --from=sTage0 a b\n");
        Assert.Equal([0], plan.Target.StageDependencies);
        Assert.Equal([0, 1], plan.BuildOrder.Select(s => s.Index));
    }

    [Fact]
    public void TestMultiStageImplicitFrom()
    {
        var plan = Plan("FROM scratch\nCOPY --from=busybox /bin/sh /sh\nRUN --mount=from=alpine,target=/a x\n");
        Assert.Equal(["scratch", "busybox", "alpine"], plan.Target.Dependencies.Select(d => d.ImageRef));
        Assert.True(plan.Target.IsScratch);
        Assert.Empty(plan.Target.StageDependencies);
    }

    [Fact]
    public void StageNamedLikeImageWins()
    {
        var plan = Plan("FROM alpine AS busybox\nFROM scratch\nCOPY --from=busybox a b\n");
        Assert.Equal([0], plan.Target.StageDependencies);
    }

    [Fact]
    public void TestOutOfOrderStage()
    {
        var ex = Assert.Throws<DockerfileException>(() => Plan("FROM scratch AS first\nCOPY --from=second a b\nFROM scratch AS second\n"));
        Assert.Equal("cannot copy from stage \"second\", it needs to be defined before current stage \"first\"", ex.Detail);
        Assert.Equal(2, ex.Line);
    }

    [Fact]
    public void TestEmptyStages() =>
        Assert.Equal("dockerfile contains no stages to build", Assert.Throws<DockerfileException>(() => Plan("ARG foo=bar\n")).Detail);

    [Fact]
    public void TestTargetMistype()
    {
        var ex = Assert.Throws<DockerfileException>(() => Plan("FROM a AS build\nFROM b AS final\n", target: "bulid"));
        Assert.Equal("target stage \"bulid\" could not be found (did you mean build?)", ex.Message);
    }

    [Fact]
    public void TestDockerfileCircularDependencies()
    {
        var self = Assert.Throws<DockerfileException>(() => Plan("FROM busybox AS stage0\nCOPY --from=stage0 f1 /f2\n"));
        Assert.Equal("circular dependency detected on stage: stage0", self.Detail);
        var pair = Assert.Throws<DockerfileException>(() => Plan("FROM busybox AS stage0\nCOPY --from=stage1 f1 /f2\nFROM busybox AS stage1\nCOPY --from=stage0 f2 /f3\n"));
        Assert.Equal("circular dependency detected on stage: stage0", pair.Detail);
        var viaFrom = Assert.Throws<DockerfileException>(() => Plan("FROM b AS a\nFROM a AS b\n"));
        Assert.StartsWith("circular dependency detected on stage:", viaFrom.Detail);
    }

    [Fact]
    public void TargetSubgraphAndDependencies()
    {
        const string df = """
            FROM alpine AS deps
            FROM alpine AS tools
            FROM alpine AS unused
            FROM deps AS build
            COPY --from=tools /t /t
            FROM scratch AS final
            COPY --from=build /out /out
            COPY --from=1 /t /t
            """;
        var plan = Plan(df);
        Assert.Equal("final", plan.Target.Name);
        Assert.DoesNotContain(plan.BuildOrder, s => s.Name == "unused");
        Assert.Equal([0, 1], plan.Stages[3].StageDependencies.Order());
        Assert.Equal([1, 3], plan.Stages[4].StageDependencies.Order());
        Assert.Empty(plan.Stages[0].StageDependencies.Concat(plan.Stages[1].StageDependencies));
        var order = plan.BuildOrder.Select(s => s.Name).ToList();
        Assert.True(order.IndexOf("deps") < order.IndexOf("build") && order.IndexOf("build") < order.IndexOf("final"));
        Assert.Equal(3, plan.Stages[3].BaseStageIndex is null ? -1 : 3);
        Assert.Equal(0, plan.Stages[3].BaseStageIndex);

        var onlyTools = Plan(df, target: "TOOLS");
        Assert.Equal(["tools"], onlyTools.BuildOrder.Select(s => s.Name!));
    }

    [Fact]
    public void TestOnBuildInheritedStageWithFrom()
    {
        var plan = Plan("FROM alpine AS src\nFROM alpine AS base\nONBUILD COPY --from=src /x /x\nFROM base\nRUN y\n");
        Assert.Equal([0, 1], plan.Target.StageDependencies.Order());
        Assert.Equal(["COPY --from=src /x /x"], plan.Stages[1].Stage.OnbuildTriggers);
        var triggers = OnbuildTriggers.Parse(plan.Stages[1].Stage.OnbuildTriggers);
        Assert.Equal("src", Assert.IsType<CopyInstruction>(Assert.Single(triggers)).From);
    }

    [Fact]
    public void OnbuildTriggersFromImageConfig()
    {
        var parsed = OnbuildTriggers.Parse(["RUN echo hi", "ENV a=b", "COPY <<EOF /f\nbody\nEOF"]);
        Assert.Equal(["RUN", "ENV", "COPY"], parsed.Select(p => p.Name));
        Assert.Throws<DockerfileException>(() => OnbuildTriggers.Parse(["ONBUILD RUN x"]));
        Assert.Throws<DockerfileException>(() => OnbuildTriggers.Parse(["FROM x"]));
    }

    [Fact]
    public void TestDefaultShellAndPath()
    {
        Assert.Equal(["/bin/sh", "-c"], ImageConfigRules.DefaultShell());
        Assert.Equal(["cmd", "/S", "/C"], ImageConfigRules.DefaultShell("windows"));
        Assert.Equal(["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], ImageConfigRules.DefaultEnv());
        Assert.Equal(["A=1", "PATH=" + ImageConfigRules.DefaultLinuxPath], ImageConfigRules.WithDefaultPath(["A=1"]));
        Assert.Equal(["PATH=/x"], ImageConfigRules.WithDefaultPath(["PATH=/x"]));
    }

    [Fact]
    public void TestCmdShell()
    {
        var ep = Assert.IsType<EntrypointInstruction>(DockerfileDocument.Parse("FROM a\nENTRYPOINT my entrypoint\n").Stages[0].Commands[0]);
        Assert.Equal(["ls", "my entrypoint"], ImageConfigRules.CommandArgs(ep.Command, ["ls"]));
        Assert.Null(ImageConfigRules.CmdAfterEntrypoint(["inherited"], cmdSetInStage: false));
        Assert.Equal(["mine"], ImageConfigRules.CmdAfterEntrypoint(["mine"], cmdSetInStage: true));
    }

    [Fact]
    public void FromErrorsCarryLine()
    {
        var ex = Assert.Throws<DockerfileException>(() => Plan("ARG x\n\nFROM ${x:?need-x}\n"));
        Assert.Equal(3, ex.Line);
        Assert.Contains("x: need-x", ex.Message);
    }

    [Fact]
    public void HeredocBodiesExpandWithQuotesKept()
    {
        var plan = Plan("FROM busybox\nARG NAME=world\n");
        var (scope, _) = Run(plan);
        Assert.Equal("hello=\"world\" 'world' $NAME\n", scope.ExpandHeredoc("hello=\"$NAME\" '$NAME' \\$NAME\n"));
        Assert.Contains("NAME", scope.UsedArgs);
    }

    [Fact]
    public void AStageBuiltFromAnotherStartsWithItsArgs()
    {
        var plan = Plan("FROM busybox AS base\nARG GREETING=hello\nARG EMPTY\nFROM base\nARG LATER=x\n");
        var (parent, _) = Run(plan, plan.Stages[0]);
        Assert.Equal([new("GREETING", "hello"), new("EMPTY", null)], parent.DeclaredArgs);
        var child = plan.CreateScope(plan.Stages[1], [], parent.DeclaredArgs);
        foreach (var c in plan.Stages[1].Stage.Commands) child.Apply(c);
        Assert.Equal("[hello]", child.ExpandWord("[$GREETING]"));
        Assert.Equal(["GREETING=hello", "LATER=x"], child.RunEnvironment());
    }
}
