/// Pipelines that ship with the binary, as JSON text read by the same validator as files.
enum BuiltinPipelines {
    /// id → JSON text.
    static let all: [(id: String, json: String)] = [("demo", demo), ("implement", implement)]

    /// Every step uses the fake agent: a decision on `plan`, an approval on `impl`.
    static let demo = #"""
    {
      "name": "Demo (fake agents)",
      "description": "Shows a decision and an approval with the built-in fake agent; needs no real agent or trust.",
      "steps": [
        {"id": "plan", "kind": "agent", "role": "planner",
         "prompt": "Plan this change: {{task}}",
         "agent": {"driver": "fake", "script": [
           [{"say": "Reading the task…"}, {"sleep": 0.2},
            {"usage": {"model": "fake-small", "input": 180, "output": 40}},
            {"ask": {"question": "How thorough should the plan be?", "options": ["quick", "thorough"]}}],
           [{"say": "Writing the plan…"}, {"sleep": 0.2},
            {"usage": {"model": "fake-small", "input": 220, "output": 120}},
            {"result": "Plan (fake agent). It was asked:\n{{prompt}}"}]
         ]}},
        {"id": "impl", "kind": "agent", "role": "implementer", "requiresApproval": true,
         "prompt": "Implement this plan:\n{{steps.plan.output}}",
         "agent": {"driver": "fake", "script": [
           [{"say": "Editing files…"}, {"sleep": 0.3}, {"say": "Building…"}, {"sleep": 0.2},
            {"usage": {"model": "fake-large", "input": 900, "output": 400}},
            {"result": "Implemented (fake agent; no files changed). It was asked:\n{{prompt}}"}]
         ]}},
        {"id": "report", "kind": "agent", "role": "reporter",
         "prompt": "Summarize what was done:\n{{steps.impl.output}}",
         "agent": {"driver": "fake", "script": [
           [{"say": "Summarizing…"}, {"sleep": 0.1},
            {"usage": {"model": "fake-small", "input": 300, "output": 60}},
            {"result": "Report (fake agent): the demo ran plan → impl → report."}]
         ]}}
      ]
    }
    """#

    /// plan (approved by a person) → impl → audit; the agents come from the roles in config.json.
    static let implement = #"""
    {
      "name": "Implement a change",
      "description": "plan (you approve it) → implement → audit. Agents come from the roles planner, implementer and auditor in config.json.",
      "steps": [
        {"id": "plan", "kind": "agent", "role": "planner", "requiresApproval": true,
         "prompt": "Plan this change. Do not edit files yet; reply with a short numbered plan.\n\nTask: {{task}}"},
        {"id": "impl", "kind": "agent", "role": "implementer",
         "prompt": "Implement this approved plan in the working directory.\n\nTask: {{task}}\n\nPlan:\n{{steps.plan.output}}"},
        {"id": "audit", "kind": "agent", "role": "auditor",
         "prompt": "Audit the change just made for this task against its plan. List concrete problems, or say it is sound.\n\nTask: {{task}}\n\nPlan:\n{{steps.plan.output}}\n\nImplementer's report:\n{{steps.impl.output}}\n\nThe change (empty when the run is not isolated in a git worktree):\n{{diff}}"}
      ]
    }
    """#
}
