-- Failures a user meets: no binary, a server that dies, JSON-RPC errors; and :checkhealth drover.
local H = _G.H
local uv = vim.uv or vim.loop

local function no_traceback()
  for _, note in ipairs(H.notes) do
    if note.message:find("traceback", 1, true) or note.message:find("%.lua:%d+:") then
      error("a notification shows Lua internals: " .. note.message)
    end
  end
  local messages = vim.api.nvim_exec("messages", true)
  if messages:find("traceback", 1, true) or messages:find("E5108", 1, true) then
    error(":messages shows an error: " .. messages)
  end
end

H.test("missing binary: one clear message, no stack trace; the runs buffer still opens", function()
  local drover = H.fresh({ cmd = { "/nonexistent/bin/drover", "serve" } })
  vim.cmd("Drover runs")
  local note = H.wait(function()
    return H.noted("cannot find the drover binary")
  end, "the missing-binary message")
  H.truthy(note.message:find("'/nonexistent/bin/drover'", 1, true), "names the path: " .. note.message)
  H.truthy(note.message:find("setup{cmd", 1, true), "says how to fix it: " .. note.message)
  H.eq(vim.log.levels.ERROR, note.level, "level")
  H.eq(false, drover.is_connected(), "not connected")
  H.truthy(H.text(H.buf_by_name("drover://runs")):find("No runs yet", 1, true), "runs buffer shows no runs")
  no_traceback()
end)

H.test("a server that fails at start: its stderr is shown", function()
  H.fresh({ cmd = { "sh", "-c", "echo 'drover: cannot open the store' >&2; exit 3" } })
  vim.cmd("Drover inbox")
  local note = H.wait(function()
    return H.noted("exited")
  end, "the exit message")
  H.eq(1, #H.notes, "one message: " .. vim.inspect(H.notes))
  H.truthy(note.message:find("cannot open the store", 1, true), "stderr shown: " .. note.message)
  H.truthy(note.message:find("exit code 3", 1, true), "exit code shown: " .. note.message)
  no_traceback()
end)

H.test("JSON-RPC errors are shown with the server's message", function()
  local drover = H.fresh()
  vim.cmd("Drover open r-20250101-000000-nope0")
  local note = H.wait(function()
    return H.noted("run/get failed")
  end, "the run/get error")
  H.eq("Drover: run/get failed: No run with id 'r-20250101-000000-nope0'", note.message, "message")
  H.eq(vim.log.levels.ERROR, note.level, "level")

  local run_id = H.start_demo()
  H.wait_run(run_id, function(run)
    return run.status == "blocked"
  end, "the decision")
  drover.resolve(run_id, "d-plan-1", "quick")
  H.wait(function()
    return H.noted("answered d%-plan%-1: quick")
  end, "the first answer")
  drover.resolve(run_id, "d-plan-1", "thorough")
  note = H.wait(function()
    return H.noted("decision/resolve failed")
  end, "the conflict")
  H.truthy(note.message:find("Decision 'd-plan-1' of run " .. run_id .. " was already answered with 'quick'", 1, true),
    "conflict message: " .. note.message)
  no_traceback()
end)

H.test("server killed: told once, restarted by the next command, missed events caught up", function()
  local drover = H.fresh()
  local run_id = H.start_demo()
  H.wait_run(run_id, function(run)
    return run.status == "blocked"
  end, "the decision")
  drover.open_run(run_id)
  H.wait_buf("drover://run/" .. run_id, "? decision d-plan-1")
  local old_pid = drover.pid()
  uv.kill(old_pid, "sigkill")
  H.wait(function()
    return H.noted("exited unexpectedly")
  end, "the crash message")
  H.truthy(H.noted("signal 9"), "says how it died")
  H.truthy(H.noted("restarts on the next :Drover command"), "says what happens next")
  H.eq(false, drover.is_connected(), "disconnected")
  H.eq("drover ▶1 ?1", drover.status(), "statusline keeps what it knew")

  -- Meanwhile another client answers the gate: events this plugin never received as notifications.
  local other = H.other_client()
  local _, err = H.request(other, "decision/resolve", { runId = run_id, decisionId = "d-plan-1", choice = "thorough" })
  H.eq(nil, err, "other client's answer")
  -- Let the other server take the run to its approval: after that nothing happens until someone
  -- acts, so only catching up (run/events) can bring these events to this plugin.
  H.wait(function()
    local result = H.request(other, "run/get", { runId = run_id })
    return result.run.status == "blocked"
  end, "the run to reach its approval on the other server")
  other.stopping = true
  other:stop()
  H.wait(function()
    return not other.running
  end, "the other server to exit")

  -- The next command restarts the server and catches up (the inbox does not list runs: the run
  -- buffer can only learn what happened from run/events).
  vim.cmd("Drover inbox")
  H.wait_buf("drover://inbox", "approval a-impl-1")
  H.wait(function()
    return drover.is_connected()
  end, "the reconnect")
  H.truthy(drover.pid() ~= old_pid, "a new server")
  H.wait_buf("drover://run/" .. run_id, "decision d-plan-1: How thorough should the plan be? → thorough")
  H.wait_buf("drover://run/" .. run_id, "? approval a-impl-1: pending")
  -- The fold of caught-up and live events equals the server's run.
  local server_run = H.call("run/get", { runId = run_id }).run
  local mine = drover.state.runs[run_id]
  H.eq(server_run.lastSeq, mine.lastSeq, "lastSeq")
  H.eq(server_run.status, mine.status, "status")
  for i, step in ipairs(server_run.steps) do
    H.eq({ step.id, step.state, step.attempts }, { mine.steps[i].id, mine.steps[i].state, mine.steps[i].attempts },
      "step " .. step.id)
  end
  H.eq(1, #H.notes_matching("exited unexpectedly"), "told once")
  -- The gate that opened while disconnected is announced; the answered one is not.
  H.wait(function()
    return H.noted("step impl waits for your approval")
  end, "the approval to be announced after catching up")
  H.eq(1, #H.notes_matching("step plan asks"), "the answered decision was announced only when it opened")
  no_traceback()
end)

H.test(":checkhealth drover with the binary: version, protocol, trust", function()
  H.fresh()
  vim.cmd("checkhealth drover")
  local text = H.text(vim.api.nvim_get_current_buf())
  -- Neovim 0.7 writes "- OK: text", later versions "- OK text".
  H.truthy(text:find("OK:? found " .. vim.pesc(H.bin)), "binary found: " .. text)
  H.truthy(text:find("OK:? version: drover "), "version: " .. text)
  H.truthy(text:find("OK:? protocol version 1 "), "protocol version: " .. text)
  H.truthy(text:find("WARNING:? the workspace is not trusted"), "trust state: " .. text)
  H.truthy(text:find(":Drover trust", 1, true), "says how to trust: " .. text)
end)

H.test(":checkhealth drover after :Drover trust, and without the binary", function()
  local drover = H.fresh()
  H.answer_select("Yes, trust this workspace")
  vim.cmd("Drover trust")
  H.wait(function()
    return H.noted("trusted " .. vim.pesc(H.ws))
  end, "trust to be recorded")
  vim.cmd("checkhealth drover")
  local text = H.text(vim.api.nvim_get_current_buf())
  H.truthy(text:find("OK:? the workspace is trusted"), "trusted: " .. text)
  vim.cmd("bwipe!")
  drover.setup({ cmd = { "/nonexistent/bin/drover", "serve" } })
  vim.cmd("checkhealth drover")
  text = H.text(vim.api.nvim_get_current_buf())
  H.truthy(text:find("ERROR:? cannot find the drover binary '/nonexistent/bin/drover'"), "error: " .. text)
  H.truthy(text:find("setup{cmd", 1, true), "advice: " .. text)
end)

H.test(":Drover trust answered No sends nothing", function()
  H.fresh()
  H.answer_select("No")
  vim.cmd("Drover trust")
  H.wait(function()
    return H.noted("workspace not trusted")
  end, "the refusal")
  H.eq(false, (require("drover.health").is_trusted(H.ws)), "trust.json does not list the workspace")
  H.eq(nil, H.noted("^Drover: trusted"), "no trust recorded")
end)
