/// Pipelines that ship with the binary, as JSON text read by the same validator as files.
enum BuiltinPipelines {
    /// id → JSON text.
    static let all: [(id: String, json: String)] = [("demo", demo), ("implement", implement), ("implement-reviewed", implementReviewed)]

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

    /// plan (approved by a person) → impl → tests (`auto`, the implementer fixes failures, 2 rounds) → audit
    /// (sees the diff and the last test run) → report; the agents come from the roles in config.json.
    static let implement = #"""
    {
      "name": "Implement a change",
      "description": "plan (you approve it) → implement → tests (detected; failures go back to the implementer, up to 2 rounds) → audit → report. Agents come from the roles planner, implementer, auditor and reporter in config.json.",
      "steps": [
        {
          "id": "plan",
          "kind": "agent",
          "role": "planner",
          "requiresApproval": true,
          "prompt": "Plan a change to the code in the working directory. Do not edit any file in this step: a person reads and approves this plan before anything changes.\n\nTask: {{task}}\n\nRead the code the task touches first. Then reply with:\n1. The task as you understand it, in one or two sentences, and any assumption you had to make.\n2. A short numbered plan: each file you will change or add, and what changes in it.\n3. How it will be tested: the existing tests that cover it and the tests you will add.\n4. Risks and open questions for the reviewer.\n\nKeep it short enough to read in a minute."
        },
        {
          "id": "impl",
          "kind": "agent",
          "role": "implementer",
          "prompt": "Implement this change in the working directory. The plan below was approved by a person.\n\nTask: {{task}}\n\nApproved plan:\n{{steps.plan.output}}\n\n- Follow the plan. Where you must deviate, say where and why in your reply.\n- Add or update tests for the new behaviour; do not weaken, skip or delete existing tests.\n- Match the style of the code around your change and keep the change to what the task needs.\n- You work on a branch of your own: do not commit, push or switch branches; drover commits your changes when this step ends.\n- Run the project's tests if you can; they are run again after you.\n\nReply with a short summary: what you changed, file by file, the tests you added, and anything left undone."
        },
        {
          "id": "tests",
          "kind": "tests",
          "command": "auto",
          "timeoutSeconds": 1800,
          "fixer": {
            "role": "implementer",
            "maxAttempts": 2
          }
        },
        {
          "id": "audit",
          "kind": "agent",
          "role": "auditor",
          "prompt": "Review this change as a careful senior engineer would before it is merged. Do not edit files: report only.\n\nTask: {{task}}\n\nApproved plan:\n{{steps.plan.output}}\n\nImplementer's summary:\n{{steps.impl.output}}\n\nLatest test run (last lines):\n{{tests.summary}}\n\nFiles changed:\n{{diff.stat}}\n\nThe change:\n{{diff}}\n\nCheck that it does what the task asks and the plan promised; correctness and edge cases; error handling; that the tests exercise the new behaviour and none were weakened or skipped; security (untrusted input, injection, secrets); leftover debug code and unrelated edits. List each problem with its file and line, how serious it is (blocker, should fix, nit) and the fix you suggest. If you find none, say that the change is sound and why."
        },
        {
          "id": "report",
          "kind": "agent",
          "role": "reporter",
          "prompt": "Write the note a reviewer reads before applying this change to their branch. Do not edit files.\n\nTask: {{task}}\n\nFiles changed:\n{{diff.stat}}\n\nImplementer's summary:\n{{steps.impl.output}}\n\nLatest test run (last lines):\n{{tests.summary}}\n\nAudit:\n{{steps.audit.output}}\n\nIn under 200 words: what changed and why, how it was tested and whether the tests pass, what the audit found (blockers first), and what the reviewer should look at before applying."
        }
      ]
    }
    """#

    /// estimate (JSON size) → plan → architecture review of the plan (only when the estimate says large; reworks
    /// the plan) → impl → tests (`auto`, the implementer fixes) → code review (reworks impl and re-runs the tests)
    /// → you approve impl with the review next to it. Roles planner, implementer and reviewer.
    static let implementReviewed = #"""
    {
      "name": "Implement a change, reviewed",
      "description": "estimate → plan → architecture review (large changes only) → implement → tests (detected; the implementer fixes failures) → code review (below 0.8 the implementation goes back with the findings, 2 rounds) → you approve the change with the review next to it. Agents come from the roles planner, implementer and reviewer in config.json.",
      "steps": [
        {
          "id": "estimate",
          "kind": "agent",
          "role": "planner",
          "prompt": "Estimate the size of this change to the code in the working directory. Do not edit any file.\n\nTask: {{task}}\n\nRead the code the task touches. Reply with only a JSON object, no other text:\n{\"size\": \"small\" | \"medium\" | \"large\", \"files\": [\"<files you expect to change>\"], \"reason\": \"<one sentence>\"}\nlarge: it changes a public interface, the data model, or more than a handful of files; small: a local change of a few lines."
        },
        {
          "id": "plan",
          "kind": "agent",
          "role": "planner",
          "prompt": "Plan this change to the code in the working directory. Do not edit any file in this step.\n\nTask: {{task}}\n\nYour estimate:\n{{steps.estimate.output}}\n\nReply with:\n1. The task as you understand it, and any assumption you had to make.\n2. A short numbered plan: each file you will change or add, and what changes in it.\n3. How it will be tested: the existing tests that cover it and the tests you will add.\n4. Risks and open questions."
        },
        {
          "id": "architecture",
          "kind": "review",
          "role": "reviewer",
          "reviews": "plan",
          "when": {"step": "estimate", "path": "size", "equals": "large"},
          "threshold": 0.7,
          "maxRounds": 2,
          "prompt": "Review this plan as the architect of the code in the working directory would, before anyone implements it. Do not edit files.\n\nTask: {{task}}\n\nJudge: does the plan solve the task; does it fit the existing design, or does it duplicate or fight it; are interfaces and data changes sound and compatible; is the testing adequate; what is missing or risky. Score 1 for a plan you would implement as is, 0.7 for one that needs only small changes, lower for one that must be rethought."
        },
        {
          "id": "impl",
          "kind": "agent",
          "role": "implementer",
          "requiresApproval": true,
          "prompt": "Implement this change in the working directory.\n\nTask: {{task}}\n\nPlan:\n{{steps.plan.output}}\n\n- Follow the plan. Where you must deviate, say where and why in your reply.\n- Add or update tests for the new behaviour; do not weaken, skip or delete existing tests.\n- Match the style of the code around your change and keep the change to what the task needs.\n- You work on a branch of your own: do not commit, push or switch branches; drover commits your changes when this step ends.\n\nReply with a short summary: what you changed, file by file, the tests you added, and anything left undone."
        },
        {
          "id": "tests",
          "kind": "tests",
          "command": "auto",
          "timeoutSeconds": 1800,
          "fixer": {"role": "implementer", "maxAttempts": 2}
        },
        {
          "id": "code-review",
          "kind": "review",
          "role": "reviewer",
          "reviews": "impl",
          "threshold": 0.8,
          "maxRounds": 2,
          "prompt": "Review this change as a careful senior engineer would before it is merged. Do not edit files.\n\nTask: {{task}}\n\nPlan:\n{{steps.plan.output}}\n\nLatest test run (last lines):\n{{tests.summary}}\n\nFiles changed:\n{{diff.stat}}\n\nThe change:\n{{diff}}\n\nCheck that it does what the task asks; correctness and edge cases; error handling; that the tests exercise the new behaviour and none were weakened or skipped; security (untrusted input, injection, secrets); leftover debug code and unrelated edits. Each finding names its file and line, how serious it is (blocker, should fix, nit) and the fix. Score 1 for a change you would merge as is, 0.8 for one with only nits, lower when something should be fixed first."
        }
      ]
    }
    """#
}
