-- drover://run/<id> — one run: its steps with state, attempts and durations, their outputs (folded),
-- the open gate and the failure with its hint. Folds `run/event`s as they arrive.
local drover = require("drover")
local state = require("drover.state")
local util = require("drover.util")

local M = {}

local buffers = {} -- bufnr -> {run_id, step_lines = {line -> step id}, gate = item|nil}

local function step_duration(step)
  local started = util.parse_time(step.startedAt)
  if not started then
    return ""
  end
  local finished = util.parse_time(step.finishedAt)
  if finished then
    return util.duration(finished - started)
  end
  if step.state == "working" then
    return util.duration(os.time() - started) .. "…"
  end
  return ""
end

local function score(value)
  return type(value) == "number" and string.format("%.2f", value) or "?"
end

--- Lines for one review verdict (a review.verdict event, or an approval's `review`), findings below it.
local function verdict_lines(lines, verdict, lead)
  table.insert(lines, string.format("%sround %s: score %s (needs %s) %s", lead, tostring(verdict.round or "?"),
    score(verdict.score), score(verdict.threshold), verdict.passed and "✓ passed" or "✗ below the threshold"))
  for _, finding in ipairs(verdict.findings or {}) do
    table.insert(lines, lead .. "  - " .. util.first_line(tostring(finding)))
  end
end

--- The history lines of one step: review rounds, consensus answers and the winner, child runs.
--- `run_lines` maps a child's line to its run id (<CR> opens it).
local function history_lines(lines, run, step, run_lines)
  for _, event in ipairs(state.step_history(run.id, step.id)) do
    if event.type == "review.verdict" then
      verdict_lines(lines, event, "      review of " .. (event.reviews or "?") .. ", ")
    elseif event.type == "review.malformed" then
      table.insert(lines, string.format("      review attempt %s: not a verdict (%s): %s", tostring(event.attempt or "?"),
        util.first_line(event.problem), util.first_line(event.text)))
    elseif event.type == "consensus.candidate" then
      -- a role that failed (or timed out, asked, was rate limited) gave no answer: its failure says why
      local answer = event.failure and string.format("no answer (%s): %s", event.failure.kind or "?",
        util.first_line(event.failure.message)) or util.first_line(vim.trim(event.output or ""))
      table.insert(lines, string.format("      candidate %s (attempt %s): %s%s", event.role or "?",
        tostring(event.attempt or "?"), answer, event.commit and (" (commit " .. event.commit:sub(1, 7) .. ")") or ""))
    elseif event.type == "consensus.decided" then
      table.insert(lines, string.format("      ★ %s won (%s)%s: %s%s", event.winner or "?", event.strategy or "?",
        event.reasons and (" — " .. util.first_line(event.reasons)) or "", util.first_line(vim.trim(event.output or "")),
        event.changesFrom and ("   (changes from " .. event.changesFrom .. ")") or ""))
    end
  end
  if step.children and #step.children > 0 then
    local merges = {}
    for _, merge in ipairs(state.step_history(run.id, step.id, "child.merged")) do
      merges[merge.childRunId or ""] = merge
    end
    local known = {}
    for _, child_id in ipairs(step.children) do
      table.insert(known, state.runs[child_id] or { id = child_id })
    end
    table.insert(lines, "      " .. state.children_summary(known) .. "   (<CR> on one opens it)")
    for _, child in ipairs(known) do
      local merge = merges[child.id]
      local status = child.status or "?"
      table.insert(lines, string.format("        ↳ %s %-9s %s  %s%s", util.status_sign[status] or "?", status, child.id,
        util.first_line(child.task), merge and string.format(" — %s%s", merge.outcome or "?",
          merge.commit and (" " .. merge.commit:sub(1, 7)) or "") or ""))
      run_lines[#lines] = child.id
    end
  end
end

--- The lines of a run buffer, the fold ranges of step outputs, the step of each line, the open gate
--- and the run each parent/child line opens.
function M.render_lines(run)
  local lines, folds, step_lines, gate, run_lines = {}, {}, {}, nil, {}
  local status = run.status or "?"
  table.insert(lines, string.format("Run %s  %s %s", run.id, util.status_sign[status] or "?", status))
  table.insert(lines, "pipeline: " .. (run.pipelineId or "?") .. "   created: " .. (run.createdAt or "?"))
  local usage = run.usage or {}
  table.insert(lines, string.format("usage: %d tokens in, %d out, $%.4f", usage.inputTokens or 0,
    usage.outputTokens or 0, usage.costUSD or 0))
  for i, text in ipairs(util.split(run.task)) do
    table.insert(lines, (i == 1 and "task: " or "      ") .. text)
  end
  if run.parentRunId then
    table.insert(lines, string.format("parent: %s (step %s)   (<CR> opens it)", run.parentRunId, run.parentStepId or "?"))
    run_lines[#lines] = run.parentRunId
  end
  local ws = run.workspace
  if ws then
    if ws.isolation == "worktree" then
      table.insert(lines, string.format("workspace: worktree %s%s", ws.path or "?", ws.removed and " (removed)" or ""))
      table.insert(lines, string.format("branch: %s from %s%s", ws.branch or "?", ws.base or "HEAD",
        ws.baseCommit and (" (" .. ws.baseCommit:sub(1, 7) .. ")") or ""))
    else
      table.insert(lines, string.format("workspace: %s (no isolation%s)", ws.path or "?",
        ws.note and (": " .. ws.note) or ""))
    end
    if ws.applied then
      table.insert(lines, string.format("applied: %s%s%s", ws.applied.strategy or "?",
        ws.applied.into and (" into " .. ws.applied.into) or "",
        ws.applied.commit and (", commit " .. ws.applied.commit:sub(1, 7)) or ""))
    end
  end
  local keys = { "<CR> log of step (or open child/parent run)", "a answer gate", "g refresh", "i inbox" }
  for _, k in ipairs({ { "run/cancel", "c cancel" }, { "run/retry", "r retry" }, { "run/restart", "R restart" },
    { "run/diff", "d diff" }, { "run/apply", "A apply" } }) do
    if drover.has(k[1]) then
      table.insert(keys, k[2])
    end
  end
  table.insert(lines, "keys: " .. table.concat(keys, " · "))
  table.insert(lines, "")
  table.insert(lines, "Steps:")
  for _, step in ipairs(run.steps or {}) do
    local line = string.format("  %s %-12s %-8s attempts %d  %s", util.step_sign[step.state] or "?", step.id,
      step.state or "?", step.attempts or 0, step_duration(step))
    table.insert(lines, line)
    step_lines[#lines] = step.id
    for _, commit in ipairs(state.step_commits(run.id, step.id)) do
      table.insert(lines, string.format("      commit %s (attempt %s): %d file%s, +%d -%d", (commit.sha or "?"):sub(1, 7),
        tostring(commit.attempt or "?"), commit.files or 0, commit.files == 1 and "" or "s", commit.insertions or 0,
        commit.deletions or 0))
      step_lines[#lines] = step.id
    end
    local decision, approval = step.decision, step.approval
    if decision then
      if decision.chosen then
        table.insert(lines, string.format("      decision %s: %s → %s", decision.id, decision.question or "", decision.chosen))
      else
        table.insert(lines, string.format("      ? decision %s: %s [%s]   (press a to answer)", decision.id,
          decision.question or "", table.concat(decision.options or {}, "/")))
        if step.state == "waiting" then
          gate = { runId = run.id, stepId = step.id, kind = "decision", id = decision.id, options = decision.options,
            question = decision.question }
        end
      end
      step_lines[#lines] = step.id
    end
    if approval then
      local text = string.format("      approval %s: %s", approval.id, approval.status or "?")
      if approval.feedback then
        text = text .. " — " .. util.first_line(approval.feedback)
      end
      if approval.status == "pending" and step.state == "waiting" then
        text = "      ? " .. text:sub(7) .. "   (press a: approve / edit / request changes / reject)"
        gate = { runId = run.id, stepId = step.id, kind = "approval", id = approval.id, proposal = approval.proposal }
      end
      table.insert(lines, text)
      step_lines[#lines] = step.id
      if approval.review then
        verdict_lines(lines, approval.review, "      review by " .. (approval.review.stepId or "?") .. ", ")
      end
      if approval.status == "pending" and (approval.proposal or "") ~= "" then
        table.insert(lines, "      proposal:")
        local first = #lines + 1
        for _, text_line in ipairs(util.split(approval.proposal)) do
          table.insert(lines, "        " .. text_line)
        end
        table.insert(folds, { first, #lines })
      end
    end
    history_lines(lines, run, step, run_lines)
    if step.output and step.output ~= "" then
      table.insert(lines, "      output:")
      local first = #lines + 1
      for _, text_line in ipairs(util.split(step.output)) do
        table.insert(lines, "        " .. text_line)
      end
      table.insert(folds, { first, #lines })
    end
  end
  if run.failure then
    table.insert(lines, "")
    table.insert(lines, string.format("Failure (%s)%s: %s", run.failure.kind or "?",
      run.failure.stepId and (" in " .. run.failure.stepId) or "", util.first_line(run.failure.message)))
    for i, text in ipairs(util.split(run.failure.message)) do
      if i > 1 then
        table.insert(lines, "  " .. text)
      end
    end
    if run.failure.hint and run.failure.hint ~= "" then
      table.insert(lines, "hint: " .. run.failure.hint)
    end
  end
  return lines, folds, step_lines, gate, run_lines
end

local function render(buf)
  local info = buffers[buf]
  if not info or not vim.api.nvim_buf_is_valid(buf) then
    return
  end
  local run = state.runs[info.run_id]
  if not run then
    util.set_lines(buf, { "Run " .. info.run_id .. " (loading…)" })
    return
  end
  local lines, folds, step_lines, gate, run_lines = M.render_lines(run)
  util.set_lines(buf, lines)
  info.step_lines, info.gate, info.run_lines = step_lines, gate, run_lines
  vim.api.nvim_buf_clear_namespace(buf, util.ns, 0, -1)
  vim.api.nvim_buf_add_highlight(buf, util.ns, util.status_hl[run.status] or "DroverHeader", 0, 0, -1)
  for i, line in ipairs(lines) do
    if line:match("^%s+%? ") then
      vim.api.nvim_buf_add_highlight(buf, util.ns, "DroverGate", i - 1, 0, -1)
    elseif line:match("^Failure") or line:match("^hint:") then
      vim.api.nvim_buf_add_highlight(buf, util.ns, "DroverFailed", i - 1, 0, -1)
    end
  end
  for _, win in ipairs(vim.fn.win_findbuf(buf)) do
    vim.api.nvim_win_call(win, function()
      vim.wo.foldmethod = "manual"
      vim.wo.foldenable = true
      vim.cmd("silent! normal! zE")
      for _, fold in ipairs(folds) do
        vim.cmd(string.format("silent! %d,%dfold", fold[1], fold[2]))
      end
    end)
  end
end

--- Run id, step id at cursor and open gate of the current run buffer.
function M.context(buf)
  buf = buf or vim.api.nvim_get_current_buf()
  local info = buffers[buf]
  if not info then
    return nil
  end
  local line = vim.api.nvim_win_get_cursor(0)[1]
  local step_id
  for l = line, 1, -1 do
    if info.step_lines and info.step_lines[l] then
      step_id = info.step_lines[l]
      break
    end
  end
  return info.run_id, step_id, info.gate
end

function M.refresh(buf)
  local info = buffers[buf]
  if not info then
    return
  end
  drover.call("run/get", { runId = info.run_id }, function()
    render(buf)
  end)
end

function M.open(run_id)
  util.define_highlights()
  local buf, created = util.scratch("drover://run/" .. run_id, "drover")
  if created then
    buffers[buf] = { run_id = run_id }
    local pending = false
    state.on_change_while(buf, function(changed_id)
      local changed, run = state.runs[changed_id], state.runs[run_id]
      -- this run, one of its children, or its parent (whose line this buffer shows)
      local related = changed_id == run_id or (changed and changed.parentRunId == run_id)
        or (run and run.parentRunId == changed_id)
      if not related or pending then
        return
      end
      pending = true
      vim.schedule(function()
        pending = false
        render(buf)
      end)
    end, function()
      buffers[buf] = nil
    end)
    util.map(buf, "<CR>", function()
      local other = (buffers[buf].run_lines or {})[vim.api.nvim_win_get_cursor(0)[1]]
      if other then
        return drover.open_run(other)
      end
      local id, step_id = M.context(buf)
      drover.log(id, step_id)
    end, "Log of the step under the cursor, or the child/parent run on the line")
    util.map(buf, "a", function()
      local _, _, gate = M.context(buf)
      if gate then
        drover.act(gate)
      else
        drover.notify("this run has no open gate")
      end
    end, "Answer the open gate")
    util.map(buf, "c", function()
      drover.cancel(run_id)
    end, "Cancel the run")
    util.map(buf, "r", function()
      drover.retry(run_id)
    end, "Retry the run")
    util.map(buf, "R", function()
      drover.restart(run_id)
    end, "Restart the run from a step")
    util.map(buf, "d", function()
      local id, step_id = M.context(buf)
      -- On a step line: that step's change; elsewhere: the whole run's.
      local line = vim.api.nvim_win_get_cursor(0)[1]
      drover.diff(id, buffers[buf].step_lines[line] and step_id or nil)
    end, "Diff of the run (of the step under the cursor)")
    util.map(buf, "A", function()
      drover.apply(run_id)
    end, "Apply the run to your branch")
    util.map(buf, "g", function()
      M.refresh(buf)
    end, "Refresh")
    util.map(buf, "i", drover.inbox, "Inbox")
  end
  util.show(buf)
  render(buf)
  M.refresh(buf)
  drover.connect(function(err)
    if not err then
      drover.load_history(run_id, function()
        render(buf)
      end)
    end
  end)
  return buf
end

return M
