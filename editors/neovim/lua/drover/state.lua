-- What the plugin knows about runs: each Run object as the server last described it, advanced by
-- folding `run/event` notifications (protocol/README.md, "Events"). `lastSeq` per run says which
-- events are folded in; an event whose seq is not lastSeq + 1 is a gap, which the caller fills with
-- `run/events {afterSeq}` (see init.lua).
local M = {}

M.runs = {} -- id -> Run
-- run id -> {seq -> event}: the events a Run object does not carry — commits, review verdicts,
-- consensus answers, child merges — kept so the run view can show their history.
M.history = {}
M.listeners = {} -- list of function(run_id, event_or_nil)

local history_types = {
  ["step.committed"] = true, ["review.verdict"] = true, ["review.malformed"] = true,
  ["consensus.candidate"] = true, ["consensus.decided"] = true, ["child.merged"] = true,
}

function M.reset()
  M.runs = {}
  M.history = {}
end

--- Remembers an event of a history type (from a live notification or a run/events page).
function M.record_history(event)
  if not history_types[event.type] then
    return
  end
  M.history[event.runId] = M.history[event.runId] or {}
  M.history[event.runId][event.seq] = event
end

--- The data of one step's recorded events of `event_type` (all history types when nil), oldest
--- first; each entry is the event's data with `type` added.
function M.step_history(run_id, step_id, event_type)
  local seqs, list = {}, {}
  for seq, event in pairs(M.history[run_id] or {}) do
    if (event.data or {}).stepId == step_id and (event_type == nil or event.type == event_type) then
      table.insert(seqs, seq)
    end
  end
  table.sort(seqs)
  for _, seq in ipairs(seqs) do
    local event = M.history[run_id][seq]
    table.insert(list, vim.tbl_extend("force", event.data or {}, { type = event.type }))
  end
  return list
end

--- The commits of one step of a run, oldest first.
function M.step_commits(run_id, step_id)
  return M.step_history(run_id, step_id, "step.committed")
end

--- The known child runs of a run (fan-out), in the order its steps list them, then any others.
function M.children_of(run_id)
  local list, seen = {}, {}
  local parent = M.runs[run_id]
  for _, step in ipairs(parent and parent.steps or {}) do
    for _, child_id in ipairs(step.children or {}) do
      if M.runs[child_id] and not seen[child_id] then
        seen[child_id] = true
        table.insert(list, M.runs[child_id])
      end
    end
  end
  local others = {}
  for id, run in pairs(M.runs) do
    if run.parentRunId == run_id and not seen[id] then
      table.insert(others, run)
    end
  end
  table.sort(others, function(a, b)
    return a.id < b.id
  end)
  return vim.list_extend(list, others)
end

--- "2 children: 1 done, 1 running" for a list of runs (or of {status=} tables), statuses in a fixed order.
function M.children_summary(children)
  local counts, order = {}, { "done", "running", "blocked", "queued", "paused", "failed", "cancelled" }
  for _, child in ipairs(children) do
    local status = child.status or "unknown"
    counts[status] = (counts[status] or 0) + 1
    if not vim.tbl_contains(order, status) then
      table.insert(order, status)
    end
  end
  local parts = {}
  for _, status in ipairs(order) do
    if counts[status] then
      table.insert(parts, counts[status] .. " " .. status)
    end
  end
  return string.format("%d child run%s: %s", #children, #children == 1 and "" or "s", table.concat(parts, ", "))
end

function M.on_change(fn)
  table.insert(M.listeners, fn)
  return fn
end

--- on_change for as long as buffer `buf` lives: the listener goes with the buffer, and
--- `on_wipe` (optional) runs then too.
function M.on_change_while(buf, fn, on_wipe)
  M.on_change(fn)
  vim.api.nvim_create_autocmd("BufWipeout", {
    buffer = buf,
    once = true,
    callback = function()
      M.off_change(fn)
      if on_wipe then
        on_wipe()
      end
    end,
  })
end

function M.off_change(fn)
  for i, listener in ipairs(M.listeners) do
    if listener == fn then
      table.remove(M.listeners, i)
      return
    end
  end
end

local function changed(run_id, event)
  for _, listener in ipairs(vim.deepcopy(M.listeners)) do
    local ok, err = pcall(listener, run_id, event)
    if not ok then
      vim.notify("drover: " .. tostring(err), vim.log.levels.ERROR)
    end
  end
end

--- Stores a Run from a response, unless what we have is newer. A run from run/list has no outputs
--- and empty proposals: keep the ones we already know for the same steps.
function M.put(run)
  if type(run) ~= "table" or not run.id then
    return
  end
  local known = M.runs[run.id]
  if known and (known.lastSeq or 0) > (run.lastSeq or 0) then
    return
  end
  if known and known.lastSeq == run.lastSeq then
    for i, step in ipairs(run.steps or {}) do
      local old = known.steps and known.steps[i]
      if old and old.id == step.id then
        step.output = step.output or old.output
        if step.approval and old.approval and step.approval.id == old.approval.id
          and (step.approval.proposal or "") == "" then
          step.approval.proposal = old.approval.proposal
        end
      end
    end
  end
  M.runs[run.id] = run
  changed(run.id, nil)
end

local function find_step(run, step_id)
  for _, step in ipairs(run.steps or {}) do
    if step.id == step_id then
      return step
    end
  end
end

--- Resets the steps from `from_step` (through `through_step` when given) to pending.
local function reset_from(run, from_step, through_step)
  local resetting = false
  for _, step in ipairs(run.steps) do
    if step.id == from_step then
      resetting = true
    end
    if resetting then
      step.state = "pending"
      step.output, step.decision, step.approval, step.startedAt, step.finishedAt = nil, nil, nil, nil, nil
    end
    if step.id == through_step then
      resetting = false
    end
  end
end

local fold = {}

fold["run.created"] = function(run, data, event)
  run.pipelineId, run.task, run.inputs = data.pipelineId, data.task, data.inputs
  run.parentRunId, run.parentStepId = data.parentRunId, data.parentStepId
  run.status, run.createdAt = "queued", event.at
  run.usage = { inputTokens = 0, outputTokens = 0, costUSD = 0 }
  run.steps = {}
  for _, info in ipairs(data.steps or {}) do
    table.insert(run.steps, { id = info.id, kind = info.kind, role = info.role, state = "pending", attempts = 0 })
  end
end
fold["run.started"] = function(run)
  run.status = "running"
end
fold["step.started"] = function(run, data, event, step)
  step.state, step.attempts, step.output = "working", data.attempt, nil
  step.startedAt, step.finishedAt = event.at, nil
  run.status, run.currentStep = "running", data.stepId
end
fold["step.completed"] = function(run, data, event, step)
  step.state, step.output, step.finishedAt = "done", data.output, event.at
end
fold["step.failed"] = function(run, data, event, step)
  step.state, step.finishedAt = "failed", event.at
  run.failure = run.failure or data.failure
end
fold["step.interrupted"] = function(run, data, event, step)
  step.state = "pending"
end
fold["step.skipped"] = function(run, data, event, step)
  step.state, step.output, step.finishedAt = "skipped", nil, event.at
end
fold["decision.requested"] = function(run, data, event, step)
  step.state = "waiting"
  step.decision = { id = data.decisionId, question = data.question, options = data.options or {} }
  run.status = "blocked"
end
fold["decision.resolved"] = function(run, data, event, step)
  if step.decision then
    step.decision.chosen = data.choice
  end
  step.state, run.status = "pending", "running"
end
fold["approval.requested"] = function(run, data, event, step)
  step.state = "waiting"
  step.approval = { id = data.approvalId, status = "pending", proposal = data.proposal or "", review = data.review }
  run.status = "blocked"
end
fold["approval.resolved"] = function(run, data, event, step)
  if step.approval then
    step.approval.status, step.approval.feedback = data.status, data.feedback
    if data.proposal then
      step.approval.proposal = data.proposal
    end
  end
  if data.status == "approved" then
    run.status = "running"
  elseif data.status == "changes_requested" then
    step.state, run.status = "pending", "running"
  elseif data.status == "rejected" then
    step.state = "failed"
  end
end
fold["run.children"] = function(run, data, event, step)
  -- a child with `replaces` takes that child's place (a conflicting child retried on top)
  step.children = step.children or {}
  for _, child in ipairs(data.children or {}) do
    local index = child.replaces and vim.fn.index(step.children, child.replaces) or -1
    if index >= 0 then
      step.children[index + 1] = child.runId
    else
      table.insert(step.children, child.runId)
    end
  end
  step.state, run.status = "waiting", "blocked"
end
fold["usage.recorded"] = function(run, data)
  run.usage = run.usage or { inputTokens = 0, outputTokens = 0, costUSD = 0 }
  run.usage.inputTokens = run.usage.inputTokens + (data.inputTokens or 0)
  run.usage.outputTokens = run.usage.outputTokens + (data.outputTokens or 0)
  run.usage.costUSD = run.usage.costUSD + (data.costUSD or 0)
end
fold["run.retried"] = function(run, data)
  reset_from(run, data.fromStep)
  run.failure, run.status = nil, "running"
end
fold["run.restarted"] = fold["run.retried"]
fold["review.rework"] = function(run, data)
  -- the reviewed step through the reviewer re-run
  reset_from(run, data.reviews, data.stepId)
  run.status, run.currentStep = "running", data.reviews
end
fold["run.workspace"] = function(run, data)
  run.workspace = vim.deepcopy(data)
end
fold["run.applied"] = function(run, data)
  run.workspace = run.workspace or {}
  run.workspace.applied = { strategy = data.strategy, into = data.into, commit = data.commit }
  if data.worktreeRemoved then
    run.workspace.removed = true
  end
end
fold["run.completed"] = function(run)
  run.status, run.currentStep = "done", nil
end
fold["run.failed"] = function(run, data)
  run.status = "failed"
  run.failure = run.failure or data.failure
end
fold["run.cancelled"] = function(run, data)
  run.status = "cancelled"
  run.failure = run.failure or { kind = "cancelled", message = data.reason or "cancelled", hint = "" }
  for _, step in ipairs(run.steps or {}) do
    if step.state == "working" or step.state == "waiting" then
      step.state = "failed"
    end
  end
end

--- Folds one event into its run. Returns "applied", "old" (already folded), "gap" (events are
--- missing before it: fetch them) or "unknown" (we have no such run yet: fetch it).
function M.apply(event)
  local run = M.runs[event.runId]
  if not run then
    if event.seq ~= 1 then
      return "unknown"
    end
    run = { id = event.runId, lastSeq = 0, steps = {} }
    M.runs[event.runId] = run
  end
  local last = run.lastSeq or 0
  if event.seq <= last then
    return "old"
  end
  if event.seq ~= last + 1 then
    return "gap"
  end
  M.record_history(event)
  local handler = fold[event.type]
  if handler then
    local data = event.data or {}
    local step = data.stepId and find_step(run, data.stepId)
    if not data.stepId or step then
      handler(run, data, event, step)
    end
  end
  run.lastSeq, run.updatedAt = event.seq, event.at
  changed(run.id, event)
  return "applied"
end

--- Every open gate we know of: {run, step, kind, id, question?, options?, proposal?}.
function M.open_gates()
  local gates = {}
  for _, run in pairs(M.runs) do
    if run.status == "blocked" then
      for _, step in ipairs(run.steps or {}) do
        if step.state == "waiting" then
          if step.decision and step.decision.chosen == nil then
            table.insert(gates, { run = run, step = step, kind = "decision", id = step.decision.id })
          elseif step.approval and step.approval.status == "pending" then
            table.insert(gates, { run = run, step = step, kind = "approval", id = step.approval.id })
          end
        end
      end
    end
  end
  return gates
end

M.live_statuses = { queued = true, running = true, blocked = true, paused = true }

--- Runs sorted newest first (ids sort by creation time).
function M.sorted_runs()
  local list = {}
  for _, run in pairs(M.runs) do
    table.insert(list, run)
  end
  table.sort(list, function(a, b)
    return a.id > b.id
  end)
  return list
end

return M
