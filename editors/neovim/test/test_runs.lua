-- The runs buffer and its keys, :Drover run from a visual selection, and a slow server.
local H = _G.H
local uv = vim.uv or vim.loop

local function runs_line(run_id)
  for _, line in ipairs(H.lines(H.buf_by_name("drover://runs"))) do
    if line:find(run_id, 1, true) then
      return line
    end
  end
end

local function wait_runs_line(run_id, needle)
  return H.wait(function()
    local line = runs_line(run_id)
    return line and line:find(needle, 1, true) and line
  end, string.format("the runs line of %s to show %q (it is %q)", run_id, needle, tostring(runs_line(run_id))))
end

H.test("runs buffer: status, step and task per run; c cancels, r retries, R restarts from a step", function()
  local drover = H.fresh()
  local run_id = H.start_demo("Cancel me")
  vim.cmd("Drover runs")
  local line = wait_runs_line(run_id, "? blocked")
  H.truthy(line:find("demo", 1, true) and line:find("plan", 1, true) and line:find("Cancel me", 1, true),
    "pipeline, step and task shown: " .. line)
  H.truthy(H.text(H.buf_by_name("drover://runs")):find("c cancel", 1, true), "keys offered from capabilities")

  H.cursor_to(run_id)
  H.press("c")
  wait_runs_line(run_id, "⊘ cancelled")
  H.eq("cancelled", H.call("run/get", { runId = run_id }).run.status, "server status after c")

  H.cursor_to(run_id)
  H.press("r")
  wait_runs_line(run_id, "? blocked")
  -- The retried plan runs its second attempt (the demo asks only once) and impl waits for approval.
  local run = H.wait_run(run_id, function(r)
    return r.status == "blocked" and H.step(r, "impl").approval ~= nil
  end, "the retried run to reach the approval")
  H.eq(2, H.step(run, "plan").attempts, "plan re-ran after retry")
  wait_runs_line(run_id, "impl")

  H.cursor_to(run_id)
  H.answer_select("plan (")
  H.press("R")
  H.wait(function()
    return H.noted("restarted from plan")
  end, "the restart")
  run = H.wait_run(run_id, function(r)
    local approval = H.step(r, "impl").approval
    return r.status == "blocked" and approval and approval.id ~= "a-impl-1"
  end, "the restarted run to reach a new approval")
  H.eq(3, H.step(run, "plan").attempts, "plan re-ran after restart")
  H.eq({ "plan (done)", "impl (waiting)", "report (pending)" }, H.prompts[#H.prompts].items, "steps offered")
  H.eq("", H.noted("failed") and H.noted("failed").message or "", "no error")
end)

H.test(":'<,'>Drover run prefills the task with the selection", function()
  H.fresh()
  vim.api.nvim_buf_set_lines(0, 0, -1, false, { "ignored", "Make the parser", "accept trailing commas", "ignored" })
  H.answer_select("demo")
  H.answer_input(nil) -- the user looks at the prefilled task, then presses <Esc>
  vim.cmd("2,3Drover run")
  H.wait(function()
    return H.noted("no task given")
  end, "the cancelled prompt")
  H.eq("Make the parser\naccept trailing commas", H.prompts[2].default, "task prefilled with the range")
  H.eq({}, H.call("run/list", {}).runs, "nothing started")
end)

H.test("a slow server does not block the editor: commands return at once", function()
  -- The real server, started one second late.
  local drover = H.fresh({ cmd = { "sh", "-c", "sleep 1; exec \"$0\" serve", H.bin } })
  local started = uv.hrtime()
  vim.cmd("Drover runs")
  vim.cmd("Drover inbox")
  local elapsed = (uv.hrtime() - started) / 1e6
  H.truthy(elapsed < 300, string.format("commands returned in %.0f ms", elapsed))
  H.eq(false, drover.is_connected(), "still connecting")
  -- The editor is usable meanwhile.
  vim.cmd("enew")
  vim.api.nvim_buf_set_lines(0, 0, -1, false, { "typing" })
  H.eq({ "typing" }, H.lines(0), "buffer edited while waiting")
  H.wait_buf("drover://inbox", "Nothing waits for you.")
  H.wait_buf("drover://runs", "No runs yet")
end)
