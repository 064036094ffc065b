-- drover.nvim: drive `drover serve` from Neovim. This module holds the connection (started on the
-- first command, restarted on the next command after the server died) and the public API that the
-- :Drover command, the buffers and the tests call. Everything is asynchronous: a function that needs
-- the server takes a callback, and nothing here waits with vim.wait.
local client_mod = require("drover.client")
local state = require("drover.state")

local M = {}

M.version = "0.1.0"

M.config = {
  cmd = { "drover", "serve" },
  workspace = nil, -- default: the current directory when the server starts
  notify_gates = true, -- vim.notify when a decision or approval opens
  open_run_on_start = true, -- :Drover run opens the run buffer
}

local conn = {
  client = nil, -- the live client, or nil
  ready = false, -- initialize answered
  waiting = {}, -- callbacks waiting for ready
  info = nil, -- initialize result
  methods = {}, -- set of capabilities.methods
}
M._conn = conn

local log_listeners = {} -- key run\0step -> {fn = true}

local function notify(message, level)
  vim.notify("Drover: " .. message, level or vim.log.levels.INFO)
end
M.notify = notify

function M.setup(opts)
  M.config = vim.tbl_deep_extend("force", M.config, opts or {})
  if opts and opts.cmd then
    M.config.cmd = opts.cmd -- lists are replaced, not merged
  end
  return M
end

function M.workspace()
  local ws = M.config.workspace or vim.fn.getcwd()
  return vim.fn.fnamemodify(ws, ":p"):gsub("/$", "")
end

-- Notifications ---------------------------------------------------------------------------------

local catching_up = {} -- run id -> true while run/events pages are fetched
local fetching = {} -- run id -> true while run/get is in flight

local function gate_notice(event)
  if not M.config.notify_gates then
    return
  end
  local data = event.data or {}
  if event.type == "decision.requested" then
    notify(string.format("run %s, step %s asks: %s [%s] — answer with :Drover inbox", event.runId,
      data.stepId or "?", data.question or "", table.concat(data.options or {}, "/")), vim.log.levels.WARN)
  elseif event.type == "approval.requested" then
    notify(string.format("run %s, step %s waits for your approval — review with :Drover inbox", event.runId,
      data.stepId or "?"), vim.log.levels.WARN)
  end
end

local apply_event

-- Is the gate raised by this event still open? (Catching up can bring a gate and its answer.)
local function gate_still_open(event)
  local run = state.runs[event.runId]
  local data = event.data or {}
  for _, step in ipairs(run and run.steps or {}) do
    if step.id == data.stepId and step.state == "waiting" then
      local gate = step.decision and step.decision.chosen == nil and step.decision.id
        or step.approval and step.approval.status == "pending" and step.approval.id
      return gate == (data.decisionId or data.approvalId)
    end
  end
  return false
end

--- Fetches the events of `run_id` after the last one we folded, page by page, and folds them.
function M.catch_up(run_id, done)
  done = done or function() end
  if catching_up[run_id] or not conn.ready then
    return done()
  end
  local run = state.runs[run_id]
  if not run then
    return done()
  end
  catching_up[run_id] = true
  local gates = {}
  local function finish(err)
    catching_up[run_id] = nil
    for _, event in ipairs(gates) do
      if gate_still_open(event) then
        gate_notice(event)
      end
    end
    done(err)
  end
  local function page()
    local after = (state.runs[run_id] and state.runs[run_id].lastSeq) or 0
    conn.client:request("run/events", { runId = run_id, afterSeq = after, limit = 1000 }, function(err, result)
      if err then
        return finish(err)
      end
      for _, event in ipairs(result.events or {}) do
        if apply_event(event, true) == "applied" and event.type:match("%.requested$") then
          table.insert(gates, event)
        end
      end
      if result.more and #(result.events or {}) > 0 then
        return page()
      end
      finish()
    end)
  end
  page()
end

local function fetch_run(run_id)
  if fetching[run_id] or not conn.ready then
    return
  end
  fetching[run_id] = true
  conn.client:request("run/get", { runId = run_id }, function(err, result)
    fetching[run_id] = nil
    if not err and result and result.run then
      state.put(result.run)
      M.catch_up(run_id)
    end
  end)
end

apply_event = function(event, from_catch_up)
  local outcome = state.apply(event)
  if outcome == "applied" and not from_catch_up then
    gate_notice(event)
  elseif outcome == "gap" then
    if not from_catch_up then
      M.catch_up(event.runId)
    end
  elseif outcome == "unknown" then
    fetch_run(event.runId)
  end
  return outcome
end

local function on_notification(method, params)
  if method == "run/event" then
    apply_event(params, false)
  elseif method == "run/log" then
    local listeners = log_listeners[(params.runId or "") .. "\0" .. (params.stepId or "")]
    if listeners then
      for fn in pairs(listeners) do
        fn(params)
      end
    end
  end
end

--- Subscribes fn(params) to the run/log lines of one step; returns an unsubscribe function.
function M.on_log(run_id, step_id, fn)
  local key = run_id .. "\0" .. step_id
  log_listeners[key] = log_listeners[key] or {}
  log_listeners[key][fn] = true
  return function()
    if log_listeners[key] then
      log_listeners[key][fn] = nil
    end
  end
end

-- Connection ------------------------------------------------------------------------------------

local function flush(err)
  local waiting = conn.waiting
  conn.waiting = {}
  for _, cb in ipairs(waiting) do
    cb(err, err == nil and conn.client or nil)
  end
end

-- A server that exits without being asked is reported once, with how it ended and its last stderr
-- lines; requests that were waiting fail quietly (this message already told the user).
local function on_exit(c, code, signal, stderr_tail)
  if conn.client ~= c then
    return
  end
  local was_ready = conn.ready
  conn.client, conn.ready = nil, false
  catching_up, fetching = {}, {}
  local why = signal and signal ~= 0 and ("signal " .. signal) or ("exit code " .. tostring(code))
  local message = string.format("drover serve exited unexpectedly (%s)", why)
  if stderr_tail ~= "" then
    message = message .. ": " .. stderr_tail
  end
  if was_ready then
    message = message .. ". It restarts on the next :Drover command."
  end
  if not c.stopping then
    notify(message, vim.log.levels.ERROR)
  end
  flush({ code = -32099, message = message, exited = true })
end

--- Calls cb(err, client) once the server is initialized, starting it if needed.
function M.connect(cb)
  if conn.client and conn.ready then
    return cb(nil, conn.client)
  end
  table.insert(conn.waiting, cb)
  if conn.client then
    return -- initializing
  end
  local workspace = M.workspace()
  local c
  c = client_mod.new({
    cmd = M.config.cmd,
    cwd = workspace,
    on_notification = on_notification,
    on_exit = function(code, signal, tail)
      on_exit(c, code, signal, tail)
    end,
  })
  local ok, err = c:start()
  if not ok then
    return flush({ code = -32099, message = err })
  end
  conn.client = c
  c:request("initialize", {
    protocolVersion = 1,
    clientInfo = { name = "drover.nvim", version = M.version },
    workspace = workspace,
  }, function(init_err, result)
    if conn.client ~= c then
      return
    end
    if init_err and init_err.exited then
      return -- on_exit reports it
    end
    if init_err then
      c.stopping = true
      c:kill()
      conn.client = nil
      return flush(init_err)
    end
    conn.ready, conn.info = true, result
    conn.methods = {}
    for _, method in ipairs((result.capabilities or {}).methods or {}) do
      conn.methods[method] = true
    end
    c:notify("initialized")
    -- Catch up: runs we knew before a reconnect get their missed events; the newest runs are listed.
    local known = vim.tbl_keys(state.runs)
    local remaining = #known + 1
    local function one_done()
      remaining = remaining - 1
      if remaining == 0 then
        flush(nil)
      end
    end
    for _, run_id in ipairs(known) do
      M.catch_up(run_id, one_done)
    end
    c:request("run/list", { limit = 100 }, function(list_err, list)
      if not list_err and list then
        for _, run in ipairs(list.runs or {}) do
          if not state.runs[run.id] then
            state.put(run)
          end
        end
      end
      one_done()
    end)
  end)
end

--- True when the connected server implements `method` (from capabilities.methods).
function M.has(method)
  return conn.methods[method] == true
end

function M.server_info()
  return conn.info
end

--- The drover serve process id, or nil.
function M.pid()
  return conn.client and conn.client.pid
end

function M.is_connected()
  return conn.ready
end

--- Sends a request (connecting first). on_result(result) runs on success; an error is shown to the
--- user with the server's message, then passed to on_error(err) if given.
function M.call(method, params, on_result, on_error)
  M.connect(function(err, c)
    if err then
      if not err.exited then
        notify(err.message or tostring(err), vim.log.levels.ERROR)
      end
      if on_error then
        on_error(err)
      end
      return
    end
    c:request(method, params, function(rpc_err, result)
      if rpc_err then
        if rpc_err.exited then
          return on_error and on_error(rpc_err)
        end
        if not (on_error and on_error(rpc_err) == "handled") then
          notify(string.format("%s failed: %s", method, rpc_err.message or vim.inspect(rpc_err)), vim.log.levels.ERROR)
        end
        return
      end
      if type(result) == "table" and type(result.run) == "table" then
        state.put(result.run)
      end
      if on_result then
        on_result(result)
      end
    end)
  end)
end

--- Stops the server (shutdown + exit).
function M.stop()
  local c = conn.client
  if c then
    c.stopping = true
    c:stop()
  end
end

-- Trust -----------------------------------------------------------------------------------------

--- Asks the user whether to trust the workspace; calls workspace/trust only on "yes".
--- done(trusted) is called with true when trust was granted.
function M.trust(reason, done)
  done = done or function() end
  local ws = M.workspace()
  local prompt = string.format("Trust %s? %sA trusted workspace's pipelines and .drover/config.json "
    .. "can run commands and agents on this machine.", ws, reason and (reason .. ". ") or "")
  vim.ui.select({ "Yes, trust this workspace", "No" }, { prompt = prompt, kind = "drover.trust" }, function(choice)
    if choice ~= "Yes, trust this workspace" then
      notify("workspace not trusted")
      return done(false)
    end
    M.call("workspace/trust", { trusted = true }, function()
      notify("trusted " .. ws)
      done(true)
    end, function()
      done(false)
    end)
  end)
end

-- Runs ------------------------------------------------------------------------------------------

local function start_run(pipeline_id, task, opts)
  local params = { pipelineId = pipeline_id, task = task, inputs = opts.inputs }
  M.call("run/start", params, function(result)
    notify(string.format("started %s (%s)", result.run.id, pipeline_id))
    if opts.on_started then
      opts.on_started(result.run)
    end
    if M.config.open_run_on_start and opts.open ~= false then
      M.open_run(result.run.id)
    end
  end, function(err)
    if err.code == -33003 and not opts.asked_trust then
      M.trust(err.data and err.data.reason, function(trusted)
        if trusted then
          start_run(pipeline_id, task, vim.tbl_extend("force", opts, { asked_trust = true }))
        end
      end)
      return "handled"
    end
  end)
end

--- Starts a run. opts: pipeline, task, default_task (prefill of the task prompt), inputs,
--- on_started(run), open (default true). Missing pipeline/task are asked with vim.ui.select/input.
function M.run(opts)
  opts = opts or {}
  local function with_task(pipeline_id)
    if opts.task and opts.task ~= "" then
      return start_run(pipeline_id, opts.task, opts)
    end
    vim.ui.input({ prompt = "Task for " .. pipeline_id .. ": ", default = opts.default_task or "" }, function(task)
      if not task or vim.trim(task) == "" then
        return notify("no task given; nothing started")
      end
      start_run(pipeline_id, task, opts)
    end)
  end
  if opts.pipeline and opts.pipeline ~= "" then
    return with_task(opts.pipeline)
  end
  M.call("pipeline/list", {}, function(result)
    local pipelines = result.pipelines or {}
    if #pipelines == 0 then
      return notify("no pipelines found", vim.log.levels.WARN)
    end
    vim.ui.select(pipelines, {
      prompt = "Pipeline to run",
      kind = "drover.pipeline",
      format_item = function(p)
        local text = p.id .. " — " .. (p.description or p.name or "")
        if p.errors and #p.errors > 0 then
          text = text .. " [invalid: " .. table.concat(p.errors, "; ") .. "]"
        end
        return text
      end,
    }, function(pipeline)
      if not pipeline then
        return
      end
      if pipeline.errors and #pipeline.errors > 0 then
        return notify(string.format("pipeline %s cannot start: %s", pipeline.id, table.concat(pipeline.errors, "; ")),
          vim.log.levels.ERROR)
      end
      with_task(pipeline.id)
    end)
  end)
end

function M.runs()
  require("drover.ui.runs").open()
end

function M.open_run(run_id)
  require("drover.ui.run").open(run_id)
end

function M.inbox()
  require("drover.ui.inbox").open()
end

--- Opens the log buffer of a step; asks for the run and step when not given.
function M.log(run_id, step_id)
  local function with_run(id)
    if step_id and step_id ~= "" then
      return require("drover.ui.log").open(id, step_id)
    end
    M.call("run/get", { runId = id }, function(result)
      local steps = {}
      for _, step in ipairs(result.run.steps or {}) do
        if (step.attempts or 0) > 0 then
          table.insert(steps, step)
        end
      end
      if #steps == 0 then
        return notify("run " .. id .. " has no step that ran yet")
      end
      if #steps == 1 then
        return require("drover.ui.log").open(id, steps[1].id)
      end
      vim.ui.select(steps, {
        prompt = "Log of which step?",
        kind = "drover.step",
        format_item = function(s)
          return string.format("%s (%s, attempt %d)", s.id, s.state, s.attempts)
        end,
      }, function(step)
        if step then
          require("drover.ui.log").open(id, step.id)
        end
      end)
    end)
  end
  if run_id and run_id ~= "" then
    return with_run(run_id)
  end
  M.pick_run("Log of which run?", with_run)
end

--- Asks for one of the known runs (newest first) and calls fn(run_id).
function M.pick_run(prompt, fn)
  M.call("run/list", { limit = 50 }, function(result)
    local runs = result.runs or {}
    for _, run in ipairs(runs) do
      if not state.runs[run.id] then
        state.put(run)
      end
    end
    if #runs == 0 then
      return notify("no runs yet; start one with :Drover run")
    end
    vim.ui.select(runs, {
      prompt = prompt,
      kind = "drover.run",
      format_item = function(r)
        return string.format("%s %s [%s] %s", r.id, r.pipelineId, r.status, require("drover.util").first_line(r.task))
      end,
    }, function(run)
      if run then
        fn(run.id)
      end
    end)
  end)
end

local function require_method(method, what)
  if not M.has(method) then
    notify(string.format("this drover serve cannot %s (no %s)", what, method), vim.log.levels.WARN)
    return false
  end
  return true
end

function M.cancel(run_id, cb)
  M.connect(function(err)
    if err or not require_method("run/cancel", "cancel runs") then
      return
    end
    M.call("run/cancel", { runId = run_id }, function(result)
      notify(string.format("run %s %s", run_id, result.run.status))
      if cb then
        cb(result.run)
      end
    end)
  end)
end

function M.retry(run_id, cb)
  M.connect(function(err)
    if err or not require_method("run/retry", "retry runs") then
      return
    end
    M.call("run/retry", { runId = run_id }, function(result)
      notify(string.format("run %s retried", run_id))
      if cb then
        cb(result.run)
      end
    end)
  end)
end

--- Restarts a run from a step (asked with vim.ui.select when not given).
function M.restart(run_id, from_step, cb)
  M.connect(function(err)
    if err or not require_method("run/restart", "restart runs") then
      return
    end
    local function go(step_id)
      M.call("run/restart", { runId = run_id, fromStep = step_id }, function(result)
        notify(string.format("run %s restarted from %s", run_id, step_id))
        if cb then
          cb(result.run)
        end
      end)
    end
    if from_step then
      return go(from_step)
    end
    M.call("run/get", { runId = run_id }, function(result)
      vim.ui.select(result.run.steps or {}, {
        prompt = "Restart from which step?",
        kind = "drover.step",
        format_item = function(s)
          return string.format("%s (%s)", s.id, s.state)
        end,
      }, function(step)
        if step then
          go(step.id)
        end
      end)
    end)
  end)
end

-- Diff and apply --------------------------------------------------------------------------------

--- Opens the diff buffer of a run (asked when nil), or of one step; done(buf) once it is filled.
function M.diff(run_id, step_id, done)
  require("drover.ui.diff").open(run_id, step_id, done)
end

M.apply_strategies = {
  { "merge", "merge — git merge --no-ff of the run's branch; its step commits stay in your history" },
  { "squash", "squash — one commit on your branch with the whole change" },
  { "patch", "patch — write the change into your working tree, without committing" },
}

-- A refused apply (-33002 with data.files): the message, and the files in the quickfix list.
local function show_refusal(run_id, err)
  local data = type(err.data) == "table" and err.data or {}
  local files = type(data.files) == "table" and data.files or {}
  local message = "apply refused: " .. (err.message or ("run " .. run_id .. " was not applied"))
  if #files > 0 then
    local items = {}
    for _, file in ipairs(files) do
      table.insert(items, { filename = M.workspace() .. "/" .. file, lnum = 1,
        text = data.reason == "uncommitted" and "uncommitted change (the run changed this file too)"
          or (data.reason or "refused") })
    end
    vim.fn.setqflist({}, " ", { title = "Drover: run " .. run_id .. " not applied (" .. (data.reason or "refused") .. ")",
      items = items })
    message = message .. "\nfiles: " .. table.concat(files, ", ") .. " (in the quickfix list, :copen)"
  end
  notify(message, vim.log.levels.ERROR)
end

--- Applies a done run to the branch checked out in the workspace (`run/apply`). The strategy is
--- asked with vim.ui.select when nil; the user confirms before anything is sent. cb(run) on success.
function M.apply(run_id, strategy, cb)
  M.connect(function(err)
    if err or not require_method("run/apply", "apply runs") then
      return
    end
    local function send(chosen)
      M.call("run/apply", { runId = run_id, strategy = chosen }, function(result)
        local applied = result.run.workspace and result.run.workspace.applied or {}
        notify(string.format("applied run %s (%s%s%s)", run_id, applied.strategy or chosen,
          applied.into and (" into " .. applied.into) or "",
          applied.commit and (", commit " .. applied.commit:sub(1, 7)) or ""))
        if cb then
          cb(result.run)
        end
      end, function(apply_err)
        if apply_err.code == -33002 then
          show_refusal(run_id, apply_err)
          return "handled"
        end
      end)
    end
    local function confirm(chosen)
      local prompt = string.format("Apply run %s to your branch in %s with %s?", run_id, M.workspace(), chosen)
      vim.ui.select({ "Yes, apply", "No" }, { prompt = prompt, kind = "drover.confirm" }, function(answer)
        if answer == "Yes, apply" then
          send(chosen)
        else
          notify("run " .. run_id .. " not applied")
        end
      end)
    end
    if not run_id or run_id == "" then
      return M.pick_run("Apply which run?", function(id)
        M.apply(id, strategy, cb)
      end)
    end
    if strategy then
      return confirm(strategy)
    end
    vim.ui.select(M.apply_strategies, {
      prompt = "Apply run " .. run_id .. " how?",
      kind = "drover.strategy",
      format_item = function(s)
        return s[2]
      end,
    }, function(choice)
      if choice then
        confirm(choice[1])
      end
    end)
  end)
end

--- Reads every event of a run once to learn what a Run object does not carry (commits, review
--- rounds, consensus answers, child merges: state.record_history); done() afterwards.
function M.load_history(run_id, done)
  done = done or function() end
  local function page(after)
    M.call("run/events", { runId = run_id, afterSeq = after, limit = 1000 }, function(result)
      local events = result.events or {}
      for _, event in ipairs(events) do
        state.record_history(event)
      end
      if result.more and #events > 0 then
        return page(events[#events].seq)
      end
      done()
    end, function()
      done()
      return "handled"
    end)
  end
  page(0)
end

-- Gates -----------------------------------------------------------------------------------------

--- Answers a decision; asks the choice with vim.ui.select over `options` when choice is nil.
function M.resolve(run_id, decision_id, choice, cb, options, question)
  local function send(chosen)
    M.call("decision/resolve", { runId = run_id, decisionId = decision_id, choice = chosen }, function(result)
      notify(string.format("answered %s: %s", decision_id, chosen))
      if cb then
        cb(result.run)
      end
    end)
  end
  if choice then
    return send(choice)
  end
  local function ask(opts, q)
    vim.ui.select(opts, { prompt = q or "Choose", kind = "drover.decision" }, function(picked)
      if picked then
        send(picked)
      end
    end)
  end
  if options then
    return ask(options, question)
  end
  M.call("run/get", { runId = run_id }, function(result)
    for _, step in ipairs(result.run.steps or {}) do
      if step.decision and step.decision.id == decision_id then
        return ask(step.decision.options, step.decision.question)
      end
    end
    notify("no decision " .. decision_id .. " in run " .. run_id, vim.log.levels.ERROR)
  end)
end

--- Approves a proposal, optionally replaced by `proposal` (the edited text).
function M.approve(run_id, approval_id, proposal, cb)
  local params = { runId = run_id, approvalId = approval_id, proposal = proposal }
  M.call("step/approve", params, function(result)
    notify(string.format("approved %s%s", approval_id, proposal and " (edited)" or ""))
    if cb then
      cb(result.run)
    end
  end)
end

--- Sends an approval back with feedback (asked with vim.ui.input when nil).
function M.request_changes(run_id, approval_id, feedback, cb)
  local function send(text)
    M.call("step/requestChanges", { runId = run_id, approvalId = approval_id, feedback = text }, function(result)
      notify(string.format("requested changes on %s", approval_id))
      if cb then
        cb(result.run)
      end
    end)
  end
  if feedback then
    return send(feedback)
  end
  vim.ui.input({ prompt = "Changes to request: " }, function(text)
    if not text or vim.trim(text) == "" then
      return notify("no feedback given; nothing sent")
    end
    send(text)
  end)
end

--- Rejects an approval; the reason is asked with vim.ui.input when nil (empty means none).
function M.reject(run_id, approval_id, reason, cb)
  local function send(text)
    local params = { runId = run_id, approvalId = approval_id }
    if text and text ~= "" then
      params.reason = text
    end
    M.call("step/reject", params, function(result)
      notify(string.format("rejected %s; run %s", approval_id, result.run.status))
      if cb then
        cb(result.run)
      end
    end)
  end
  if reason then
    return send(reason)
  end
  vim.ui.input({ prompt = "Reason for rejecting (optional): " }, function(text)
    if text == nil then
      return -- cancelled
    end
    send(text)
  end)
end

--- Opens a child run: the only one at once, else the one picked from `children` (InboxItem
--- children `{runId, status, task?}` or Run objects).
function M.open_children(children)
  if #children == 0 then
    return notify("no child runs yet")
  end
  if #children == 1 then
    return M.open_run(children[1].runId or children[1].id)
  end
  vim.ui.select(children, {
    prompt = "Open which child run?",
    kind = "drover.child",
    format_item = function(child)
      return string.format("%s  %s  %s", child.runId or child.id, child.status or "?", (child.task or ""):match("^[^\n]*"))
    end,
  }, function(child)
    if child then
      M.open_run(child.runId or child.id)
    end
  end)
end

--- Opens the proposal in a scratch buffer; :w approves the edited text.
function M.edit_approval(run_id, approval_id)
  require("drover.ui.approval").open(run_id, approval_id)
end

--- Acts on an open gate (an InboxItem or {runId, stepId, kind, id, options, question}):
--- a decision asks its choice, an approval asks what to do with it.
function M.act(item)
  if item.kind == "decision" then
    return M.resolve(item.runId, item.id, nil, nil, item.options, item.question)
  end
  if item.kind == "children" then
    return M.open_children(item.children or {})
  end
  if item.kind ~= "approval" then
    -- a kind newer than this plugin: nothing to answer here, but the run can be opened
    return notify(string.format("run %s waits on a %s item, which drover.nvim cannot answer; o opens the run",
      item.runId or "?", tostring(item.kind)))
  end
  local actions = {
    { "approve", "Approve" },
    { "edit", "Edit the proposal, then approve it with :w" },
    { "changes", "Request changes" },
    { "reject", "Reject" },
  }
  vim.ui.select(actions, {
    prompt = string.format("Approval %s of %s/%s", item.id, item.runId, item.stepId or "?"),
    kind = "drover.approval",
    format_item = function(a)
      return a[2]
    end,
  }, function(action)
    if not action then
      return
    end
    if action[1] == "approve" then
      M.approve(item.runId, item.id)
    elseif action[1] == "edit" then
      M.edit_approval(item.runId, item.id)
    elseif action[1] == "changes" then
      M.request_changes(item.runId, item.id)
    else
      M.reject(item.runId, item.id)
    end
  end)
end

-- Statusline ------------------------------------------------------------------------------------

--- A short string for a statusline: live runs and open gates, "" when there is nothing to say.
function M.status()
  local live, gates = 0, 0
  for _, run in pairs(state.runs) do
    if state.live_statuses[run.status] then
      live = live + 1
    end
  end
  gates = #state.open_gates()
  if live == 0 and gates == 0 then
    return ""
  end
  local parts = { "drover" }
  if live > 0 then
    table.insert(parts, string.format("▶%d", live))
  end
  if gates > 0 then
    table.insert(parts, string.format("?%d", gates))
  end
  return table.concat(parts, " ")
end

M.state = state

return M
