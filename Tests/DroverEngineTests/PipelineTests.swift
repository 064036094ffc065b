import DroverEngine
import DroverProtocol
import Foundation
import Testing

@Suite struct PipelineValidationTests {
    func errors(_ json: String) -> [String] {
        PipelineValidator.validate(data: Data(json.utf8)).errors
    }

    @Test func builtinsAreValid() throws {
        let dir = try TempDir()
        let catalog = PipelineCatalog.load(workspace: dir.url, configDirectory: dir.url.appendingPathComponent("config"))
        for id in ["demo", "implement", "implement-reviewed"] {
            let entry = try #require(catalog.entry(id))
            #expect(entry.errors == [], "\(id)")
            #expect(entry.source == .builtin)
        }
        let demo = try #require(catalog.entry("demo")?.definition)
        #expect(demo.steps.contains { $0.needsApproval })
        #expect(demo.steps.allSatisfy { $0.agent?.driver == "fake" })
    }

    @Test(arguments: [
        (#"{"name": "x", "steps": [{"id": "plan", "kind": "agent", "role": "r", "prompt": "p"}, {"id": "impl", "kind": "agent", "role": "r"}]}"#,
         "step 2 ('impl'): field 'prompt' is required for agent steps"),
        (#"{"name": "x", "steps": [{"id": "a", "kind": "command", "command": "true"}, {"id": "a", "kind": "command", "command": "true"}]}"#,
         "step 2 ('a'): field 'id' duplicates step 1's id"),
        (#"{"name": "x", "steps": [{"id": "-bad", "kind": "command", "command": "true"}]}"#,
         "step 1 ('-bad'): field 'id' must match"),
        (#"{"name": "x", "steps": [{"id": "a", "kind": "agent", "role": "r", "prompt": "{{steps.b.output}}"}, {"id": "b", "kind": "command", "command": "true"}]}"#,
         "step 1 ('a'): field 'prompt': {{steps.b.output}} refers to an unknown or later step"),
        (#"{"name": "x", "steps": [{"id": "a", "kind": "agent", "role": "r", "prompt": "{{previous.output}}"}]}"#,
         "step 1 ('a'): field 'prompt': {{previous.output}} has no previous step"),
        (#"{"name": "x", "steps": [{"id": "a", "kind": "agent", "role": "r", "prompt": "{{whatever}}"}]}"#,
         "step 1 ('a'): field 'prompt': unknown placeholder {{whatever}}"),
        (#"{"name": "x", "steps": [{"id": "a", "kind": "agent", "prompt": "p", "agent": {"driver": "gpt"}}]}"#,
         "step 1 ('a'): field 'agent.driver': unknown driver 'gpt'"),
        (#"{"name": "x", "steps": [{"id": "a", "kind": "agent", "prompt": "p", "agent": {"driver": "acp"}}]}"#,
         "step 1 ('a'): field 'agent.command' is required (the ACP agent to run"),
        (#"{"name": "x", "steps": [{"id": "a", "kind": "agent", "prompt": "p", "agent": {"driver": "fake"}}]}"#,
         "step 1 ('a'): field 'agent.script' is required for the fake driver"),
        (#"{"name": "x", "steps": [{"id": "a", "kind": "agent", "prompt": "p"}]}"#,
         "step 1 ('a'): agent steps need a 'role'"),
        (#"{"name": "x", "steps": [{"id": "a", "kind": "command"}]}"#,
         "step 1 ('a'): field 'command' is required for command steps"),
        (#"{"name": "x", "steps": [{"id": "a", "kind": "command", "command": "auto"}]}"#,
         "step 1 ('a'): field 'command': \"auto\" (detect the project's test command) is for tests steps only"),
        (#"{"name": "x", "steps": [{"id": "a", "kind": "command", "command": "true", "requireApproval": true}]}"#,
         "step 1 ('a'): unknown field 'requireApproval'"),
        (#"{"name": "x", "steps": [{"id": "a", "kind": "command", "command": "true", "timeoutSeconds": 0}]}"#,
         "step 1 ('a'): field 'timeoutSeconds' must be a number of seconds greater than 0"),
        (#"{"name": "x", "steps": [{"id": "a", "kind": "job", "command": "true"}]}"#,
         "step 1 ('a'): field 'kind' is 'job'; use agent, command, tests or review"),
        (#"{"steps": []}"#, "field 'name' is required"),
        (#"{"name": "x", "steps": []}"#, "field 'steps' must list at least one step"),
        (#"{"name": "x", "steps": [{"id": "a"#, "not valid JSON"),
    ])
    func invalidPipelinesSayWhatAndWhere(json: String, message: String) {
        let found = errors(json)
        #expect(found.contains { $0.contains(message) }, "got \(found)")
    }

    @Test func aValidPipelineHasNoErrors() {
        let found = errors(#"""
        {"name": "ok", "steps": [
          {"id": "plan", "kind": "agent", "role": "planner", "prompt": "{{task}} {{inputs.lang}}", "requiresApproval": true, "timeoutSeconds": 1.5},
          {"id": "impl", "kind": "agent", "prompt": "{{steps.plan.output}} {{previous.output}}", "agent": {"driver": "command", "command": "my-agent", "args": ["-q"], "model": "m"}},
          {"id": "test", "kind": "tests", "command": ["swift", "test"], "fixer": {"role": "fixer", "maxAttempts": 2}},
          {"id": "auto", "kind": "tests", "command": "auto", "fixer": "fixer"},
          {"id": "lint", "kind": "command", "command": "make lint"}
        ]}
        """#)
        #expect(found == [])
    }
}

@Suite struct TemplateTests {
    let context = Template.Context(task: "T", inputs: ["lang": "swift"], stepOutputs: ["plan": "P"], previousOutput: "PREV")

    @Test(arguments: [
        ("{{task}}", "T"),
        ("a {{ task }} b", "a T b"),
        ("{{steps.plan.output}}", "P"),
        ("{{previous.output}}", "PREV"),
        ("{{inputs.lang}}", "swift"),
        ("{{inputs.missing}}|{{steps.nope.output}}", "|"),
        ("{{unknown}}x", "x"),
        ("{ {task} } {{ not a name }} {{", "{ {task} } {{ not a name }} {{"),
        ("{{{task}}}", "{T}"),
        ("no placeholders", "no placeholders"),
    ])
    func render(template: String, expected: String) {
        #expect(Template.render(template, context: context) == expected)
    }

    @Test func references() {
        #expect(Template.references(in: "{{task}} {{steps.a.output}} {{inputs.k}} {{previous.output}} {{x}}")
                == [.task, .stepOutput("a"), .input("k"), .previousOutput, .unknown("x")])
    }
}

@Suite struct CatalogConfigTrustTests {
    @Test func workspaceBeatsUserBeatsBuiltinAndBrokenFilesAreListed() throws {
        let dir = try TempDir()
        let workspace = dir.url.appendingPathComponent("ws")
        let config = dir.url.appendingPathComponent("config")
        try dir.write("config/pipelines/demo.json", #"{"name": "User demo", "steps": [{"id": "a", "kind": "command", "command": "true"}]}"#)
        try dir.write("config/pipelines/mine.json", #"{"name": "Mine", "steps": [{"id": "a", "kind": "command", "command": "true"}]}"#)
        try dir.write("ws/.drover/pipelines/mine.json", #"{"name": "Workspace mine", "steps": [{"id": "a", "kind": "command", "command": "true"}]}"#)
        try dir.write("ws/.drover/pipelines/broken.json", #"{"name": "Broken", "steps": [{"id": "a", "kind": "agent"}]}"#)
        try dir.write("ws/.drover/pipelines/bad name!.json", #"{}"#)
        let catalog = PipelineCatalog.load(workspace: workspace, configDirectory: config)
        #expect(catalog.entry("demo")?.source == .user)
        #expect(catalog.entry("demo")?.info.name == "User demo")
        #expect(catalog.entry("mine")?.source == .workspace)
        #expect(catalog.entry("implement")?.source == .builtin)
        let broken = try #require(catalog.entry("broken"))
        #expect(broken.errors.contains { $0.contains("step 1 ('a'): field 'prompt' is required") })
        #expect(broken.info.path?.hasSuffix(".drover/pipelines/broken.json") == true)
        #expect(catalog.entry("bad name!")?.errors.first?.contains("not a valid pipeline id") == true)

        // What starting a run looks up, one id at a time, is what the whole catalog says of that id.
        for id in ["demo", "mine", "implement", "broken", "bad name!", "missing"] {
            let alone = PipelineCatalog.entry(id, workspace: workspace, configDirectory: config)
            let listed = catalog.entry(id)
            #expect(alone?.info == listed?.info, "\(id)")
        }
        #expect(PipelineCatalog.entry("missing", workspace: workspace, configDirectory: config) == nil)
    }

    @Test func configDirectoryFollowsTheEnvironment() {
        #expect(EngineConfig.configDirectory(environment: ["DROVER_CONFIG_DIR": "/a", "XDG_CONFIG_HOME": "/b", "HOME": "/h"]).path == "/a")
        #expect(EngineConfig.configDirectory(environment: ["XDG_CONFIG_HOME": "/b", "HOME": "/h"]).path == "/b/drover")
        #expect(EngineConfig.configDirectory(environment: ["HOME": "/h"]).path == "/h/.config/drover")
    }

    @Test func workspaceConfigOverridesUserConfigPerRole() throws {
        let dir = try TempDir()
        try dir.write("config/config.json", #"{"agents": {"planner": {"driver": "command", "command": "user-planner"}, "auditor": {"driver": "fake", "script": [[{"result": "ok"}]]}}}"#)
        try dir.write("ws/.drover/config.json", #"{"agents": {"planner": {"driver": "command", "command": "ws-planner"}, "oops": {"driver": "nope"}}}"#)
        let config = EngineConfig.load(workspace: dir.url.appendingPathComponent("ws"), configDirectory: dir.url.appendingPathComponent("config"))
        #expect(config.agent(forRole: "planner")?.spec.settings["command"] == .string("ws-planner"))
        #expect(config.agent(forRole: "planner")?.source == .workspace)
        #expect(config.agent(forRole: "auditor")?.source == .user)
        #expect(config.agent(forRole: "oops") == nil)
        #expect(config.errors.contains { $0.contains("agents.oops.driver") })
    }

    @Test func rolesWithoutConfigRunTheAgentOnPathForBuiltinPipelinesOnly() throws {
        let dir = try TempDir()
        try dir.write("bin/codex", "#!/bin/sh\n")
        try dir.write("bin/claude", "#!/bin/sh\n")
        try dir.write("config/config.json", #"{"agents": {"planner": {"driver": "fake", "script": [[{"result": "ok"}]]}}}"#)
        for name in ["codex", "claude"] {
            chmod(dir.url.appendingPathComponent("bin/\(name)").path, 0o755)
        }
        let found = DetectedAgent.onPath(environment: ["PATH": dir.url.appendingPathComponent("bin").path + ":/nonexistent"])
        #expect(found.map(\.driver) == ["claude", "codex"], "claude is preferred")
        #expect(DetectedAgent.onPath(environment: ["PATH": "/nonexistent"]).isEmpty)

        let workspace = dir.url.appendingPathComponent("ws")
        let roles = RoleAgent.all(workspace: workspace, configDirectory: dir.url.appendingPathComponent("config"),
                                  environment: ["PATH": dir.url.appendingPathComponent("bin").path])
        #expect(roles.map(\.role) == ["auditor", "implementer", "planner", "reporter"], "the demo's inline agents need no role")
        #expect(roles.first { $0.role == "planner" }?.agent?.source == .user, "a configured role keeps its agent")
        #expect(roles.first { $0.role == "planner" }?.agent?.detected == nil)
        #expect(roles.first { $0.role == "auditor" }?.agent?.detected?.driver == "claude")

        let config = StarterConfig(agent: found[1], roles: ["planner", "coder"])
        let written = try JSONParser().parse(Array(config.text.utf8))
        #expect(written["agents"]?["coder"] == .object(["driver": .string("codex"), "sandbox": .string("workspace-write")]))
        #expect(config.text.split(separator: "\n").count == 6, "one line per role: \(config.text)")
    }

    @Test func trustIsRememberedPerWorkspaceWithPrivatePermissions() throws {
        let dir = try TempDir()
        let store = TrustStore(configDirectory: dir.url.appendingPathComponent("config"))
        let workspace = dir.url.appendingPathComponent("ws")
        try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
        #expect(!store.isTrusted(workspace))
        try store.setTrusted(workspace, true)
        #expect(store.isTrusted(workspace))
        #expect(!store.isTrusted(dir.url))
        let attributes = try FileManager.default.attributesOfItem(atPath: store.file.path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let dirAttributes = try FileManager.default.attributesOfItem(atPath: store.file.deletingLastPathComponent().path)
        #expect((dirAttributes[.posixPermissions] as? Int) == 0o700)
        try store.setTrusted(workspace, false)
        #expect(!store.isTrusted(workspace))
    }
}
