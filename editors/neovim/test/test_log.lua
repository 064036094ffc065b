-- The log buffer: live run/log lines joined with the step/log backfill, no line doubled or lost.
local H = _G.H

local function spam_lines(counts)
  local lines = {}
  for _, count in ipairs(counts) do
    for i = 1, count do
      table.insert(lines, string.format("spam %d/%d", i, count))
    end
  end
  return lines
end

-- Starts a workspace pipeline through :Drover run, answering the trust prompt; returns the run id.
local function start_trusted(id)
  local drover = H.drover
  local run_id
  drover.config.open_run_on_start = false
  H.answer_select(id)
  H.answer_input("log test")
  H.answer_select("Yes, trust this workspace")
  local unsubscribe = drover.state.on_change(function(changed)
    run_id = run_id or changed
  end)
  vim.cmd("Drover run")
  H.wait(function()
    return run_id
  end, "the run to start")
  drover.state.off_change(unsubscribe)
  H.truthy(H.prompts[3].prompt:find("Trust " .. H.ws, 1, true), "trust prompt names the workspace: " .. H.prompts[3].prompt)
  return run_id
end

local function five_thousand(strip_offsets)
  local drover = H.fresh()
  H.fake_pipeline("spam", { { { spam = 2000 }, { sleep = 0.6 }, { spam = 3000 }, { sleep = 0.3 }, { result = "ok" } } })
  local run_id = start_trusted("spam")
  if strip_offsets then
    -- Play an older server: run/log without `offset`, so the text-alignment join is used.
    local c = drover._conn.client
    local handler = c.on_notification
    c.on_notification = function(method, params)
      if method == "run/log" then
        params.offset = nil
      end
      handler(method, params)
    end
  end
  -- Open the log once the step has printed something, so both the backfill and live lines matter.
  H.wait(function()
    local ok, page = pcall(H.call, "step/log", { runId = run_id, stepId = "s", limit = 16 })
    return ok and page.nextOffset > 0
  end, "the step to print")
  vim.cmd("Drover log " .. run_id .. " s")
  local buf = vim.api.nvim_get_current_buf()
  H.eq("drover://log/" .. run_id .. "/s", vim.api.nvim_buf_get_name(buf), "log buffer name")
  H.wait_run(run_id, function(run)
    return run.status == "done"
  end, "the run to finish")
  local expected = { "── attempt 1 ──" }
  vim.list_extend(expected, spam_lines({ 2000, 3000 }))
  H.wait(function()
    return #H.lines(buf) >= #expected
  end, "5001 lines (have " .. #H.lines(buf) .. ")")
  H.eq(expected, H.lines(buf), "log buffer")
  H.eq(#expected, vim.api.nvim_win_get_cursor(0)[1], "cursor followed the end")
end

H.test("5,000 lines: opened while the step prints, every line exactly once, in order", function()
  five_thousand(false)
end)

H.test("5,000 lines from a server without run/log offsets: still no line doubled or lost", function()
  five_thousand(true)
end)

H.test("opened after the step ended: the backfill alone holds all 5,000 lines", function()
  H.fresh()
  H.fake_pipeline("spam", { { { spam = 5000 }, { result = "ok" } } })
  local run_id = start_trusted("spam")
  H.wait_run(run_id, function(run)
    return run.status == "done"
  end, "the run to finish")
  H.drover.log(run_id, "s")
  local buf = H.wait_buf("drover://log/" .. run_id .. "/s", "spam 5000/5000")
  local expected = { "── attempt 1 ──" }
  vim.list_extend(expected, spam_lines({ 5000 }))
  H.eq(expected, H.lines(buf), "log buffer")
end)

H.test("follows the end unless the user moved the cursor; :Drover log asks the step", function()
  H.fresh()
  H.fake_pipeline("talk", { { { say = "one" }, { sleep = 0.4 }, { say = "two" }, { sleep = 0.4 }, { say = "three" },
    { sleep = 0.4 }, { say = "four" }, { result = "x" } } })
  local run_id = start_trusted("talk")
  H.wait_run(run_id, function(run)
    return H.step(run, "s").attempts > 0
  end, "the step to start")
  vim.cmd("Drover log " .. run_id) -- one step ran: no question asked
  local buf = H.wait_buf("drover://log/" .. run_id .. "/s", "one")
  H.wait_buf("drover://log/" .. run_id .. "/s", "two")
  H.eq(#H.lines(buf), vim.api.nvim_win_get_cursor(0)[1], "cursor at the end while following")
  vim.api.nvim_win_set_cursor(0, { 1, 0 })
  H.wait_buf("drover://log/" .. run_id .. "/s", "four")
  H.eq(1, vim.api.nvim_win_get_cursor(0)[1], "cursor stayed where the user put it")
  H.eq({ "── attempt 1 ──", "one", "two", "three", "four" }, H.lines(buf), "log buffer")
end)

H.test("join by offset: live lines before nextOffset are dropped, lines at or after it kept", function()
  -- The server in use may not send `offset` yet; this feeds run/log notifications as a server with
  -- offsets sends them, against the real log file and the real step/log backfill.
  local drover = H.fresh()
  H.fake_pipeline("five", { { { spam = 5 }, { result = "x" } } })
  local run_id = start_trusted("five")
  H.wait_run(run_id, function(run)
    return run.status == "done"
  end, "the run to finish")
  local file = H.ws .. "/.drover/logs/" .. run_id .. "@s.1.log"
  local offsets, offset = {}, 0
  for _, line in ipairs(vim.fn.readfile(file)) do
    table.insert(offsets, offset)
    offset = offset + #line + 1
  end
  local size = vim.fn.getfsize(file)
  H.eq(size, offset, "file size")
  drover.log(run_id, "s")
  local notify = drover._conn.client.on_notification
  local function live(text, at)
    notify("run/log", { runId = run_id, stepId = "s", attempt = 1, stream = "agent", text = text, offset = at })
  end
  live("spam 3/5", offsets[3]) -- already in the file: must not be doubled
  live("spam 5/5", size) -- a new line that happens to repeat the last one: must be kept
  live("tail", size + 9)
  local buf = H.wait_buf("drover://log/" .. run_id .. "/s", "tail")
  local expected = { "── attempt 1 ──" }
  vim.list_extend(expected, spam_lines({ 5 }))
  vim.list_extend(expected, { "spam 5/5", "tail" })
  H.eq(expected, H.lines(buf), "log buffer")
end)
