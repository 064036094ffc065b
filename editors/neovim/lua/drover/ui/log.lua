-- drover://log/<run>/<step> — a step's output, complete even when opened late: it subscribes to
-- live `run/log` lines first (holding them back), backfills the attempt's log file with `step/log`
-- pages, and then appends only the live lines the file did not hold yet. The join uses the byte
-- `offset` that run/log carries: a live line belongs after the backfill iff offset >= nextOffset.
-- A server without `offset` gets a join by text alignment (see `align`), which is exact unless a
-- new line repeats an earlier one.
local drover = require("drover")
local util = require("drover.util")

local M = {}

M.logs = {} -- bufnr -> log state (exposed for tests and :Drover debugging)

--- The text a person sees for one line of an attempt's log file, or nil for protocol lines that
--- are not output (usage, result, decision). Mirrors how the server turns agent lines into run/log.
function M.render_file_line(line)
  if line:sub(1, 1) == "{" then
    local ok, obj = pcall(vim.json.decode, line, { luanil = { object = true, array = true } })
    if ok and type(obj) == "table" and type(obj.type) == "string" then
      if obj.type == "log" and type(obj.text) == "string" then
        return obj.text
      elseif obj.type == "progress" then
        local parts = { "progress" }
        if type(obj.fraction) == "number" then
          table.insert(parts, string.format("%d%%", math.floor(obj.fraction * 100 + 0.5)))
        end
        if type(obj.message) == "string" then
          table.insert(parts, obj.message)
        end
        return table.concat(parts, " ")
      elseif obj.type == "usage" or obj.type == "result" or obj.type == "decision" then
        return nil
      end
    end
  end
  return line
end

local function at_end_windows(buf)
  local wins = {}
  local count = vim.api.nvim_buf_line_count(buf)
  for _, win in ipairs(vim.fn.win_findbuf(buf)) do
    if vim.api.nvim_win_get_cursor(win)[1] >= count then
      table.insert(wins, win)
    end
  end
  return wins
end

-- Appends text lines (each may hold newlines) to the buffer, keeping followers at the end.
local function append(log, texts)
  local buf = log.buf
  if #texts == 0 or not vim.api.nvim_buf_is_valid(buf) then
    return
  end
  local lines = {}
  for _, text in ipairs(texts) do
    for _, line in ipairs(util.split(text)) do
      table.insert(lines, line)
    end
  end
  local followers = at_end_windows(buf)
  vim.api.nvim_buf_set_option(buf, "modifiable", true)
  if log.empty then
    vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
    log.empty = false
  else
    vim.api.nvim_buf_set_lines(buf, -1, -1, false, lines)
  end
  vim.api.nvim_buf_set_option(buf, "modifiable", false)
  vim.api.nvim_buf_set_option(buf, "modified", false)
  local last = vim.api.nvim_buf_line_count(buf)
  for _, win in ipairs(followers) do
    vim.api.nvim_win_set_cursor(win, { last, 0 })
  end
end

-- Live lines are appended once per turn of the event loop, not one buffer change per line.
local function queue(log, text)
  table.insert(log.queued, text)
  if log.flush_scheduled then
    return
  end
  log.flush_scheduled = true
  vim.schedule(function()
    log.flush_scheduled = false
    local texts = log.queued
    log.queued = {}
    append(log, texts)
  end)
end

local function attempt_header(log, attempt)
  if log.shown_attempt ~= attempt then
    log.shown_attempt = attempt
    queue(log, string.format("── attempt %d ──", attempt))
  end
end

-- A live line of an attempt whose backfill is done (or that started after we subscribed).
local align
local function deliver(log, params)
  local a = log.attempts[params.attempt]
  local has_offset = params.offset ~= nil and params.offset ~= vim.NIL
  if has_offset then
    log.align = nil
    if a and a.next_offset and params.offset < a.next_offset then
      return -- the backfill already holds it
    end
  elseif log.align and params.attempt == log.base and not align(log, params) then
    return -- the backfill already holds it (text alignment, see align)
  end
  attempt_header(log, params.attempt)
  queue(log, params.text or "")
end

local function on_live(log, params)
  local attempt = params.attempt or 0
  if log.base == false then
    -- run/get has not answered yet: we do not know which attempt is backfilled.
    table.insert(log.held, params)
    return
  end
  if log.base and attempt < log.base then
    return -- an older attempt than the one shown
  end
  if log.base and attempt > log.base then
    log.align = nil -- a later attempt: its file starts empty, every line of it is new
  end
  if log.base and not log.backfilled then
    table.insert(log.held, params)
    return
  end
  deliver(log, params)
end

-- Without offsets (older servers), live lines are aligned with the end of the backfill by text:
-- notifications can lag behind the file, so the first live line may sit anywhere in the backfill.
-- Lines that continue the backfill in order are dropped; the first line that does not is new, and
-- from then on everything is appended. (A new line repeating an earlier one can be dropped wrongly:
-- that is why the server now sends `offset`.)
align = function(log, params)
  local a = log.align
  local text = params.text or ""
  if a.next == nil then
    for i = #a.lines, 1, -1 do
      if a.lines[i] == text then
        a.next = i + 1
        return false
      end
    end
  elseif a.next <= #a.lines and a.lines[a.next] == text then
    a.next = a.next + 1
    return false
  end
  log.align = nil
  return true
end

-- Joins the backfill (text lines, next offset N) with the live lines held meanwhile.
local function join(log, backfill_lines, next_offset)
  local base = log.base
  log.attempts[base] = { next_offset = next_offset }
  attempt_header(log, base)
  for _, line in ipairs(backfill_lines) do
    queue(log, line)
  end
  local held = log.held
  log.held = {}
  log.backfilled = true
  if next_offset and #backfill_lines > 0 then
    log.align = { lines = backfill_lines }
  end
  for _, params in ipairs(held) do
    deliver(log, params)
  end
end

-- Reads the attempt's log file from `offset` page by page until its end; calls done(lines, N) with
-- the complete lines and the offset just after the last of them.
local function backfill(log, done)
  local chunks, offset = {}, 0
  local function page()
    drover.call("step/log", { runId = log.run_id, stepId = log.step_id, attempt = log.base, offset = offset },
      function(result)
        local text = result.text or ""
        table.insert(chunks, text)
        offset = result.nextOffset or (offset + #text)
        if result.eof or text == "" then
          local all = table.concat(chunks)
          local last_newline = all:match(".*()\n")
          local complete = last_newline and all:sub(1, last_newline) or ""
          local lines = {}
          for line in complete:gmatch("([^\n]*)\n") do
            local shown = M.render_file_line(line)
            if shown then
              table.insert(lines, shown)
            end
          end
          return done(lines, #complete)
        end
        page()
      end, function()
        -- The error is shown to the user; show what we have and follow live lines from here.
        done({}, nil)
      end)
  end
  page()
end

function M.open(run_id, step_id)
  local name = string.format("drover://log/%s/%s", run_id, step_id)
  local buf, created = util.scratch(name, "droverlog")
  if not created and M.logs[buf] then
    util.show(buf)
    return buf
  end
  local log = {
    buf = buf, run_id = run_id, step_id = step_id, base = false, backfilled = false, held = {},
    attempts = {}, queued = {}, empty = true,
  }
  M.logs[buf] = log
  util.set_lines(buf, { string.format("(loading the log of %s/%s…)", run_id, step_id) })
  -- 1. Subscribe first, so no line printed from now on can be missed.
  log.unsubscribe = drover.on_log(run_id, step_id, function(params)
    on_live(log, params)
  end)
  vim.api.nvim_create_autocmd("BufWipeout", {
    buffer = buf,
    once = true,
    callback = function()
      log.unsubscribe()
      M.logs[buf] = nil
    end,
  })
  util.show(buf)
  vim.api.nvim_win_set_cursor(0, { vim.api.nvim_buf_line_count(buf), 0 })
  -- 2. Which attempt is the latest? 3. Backfill it, then join the held-back live lines.
  drover.call("run/get", { runId = run_id }, function(result)
    local attempts = 0
    local found = false
    for _, step in ipairs(result.run.steps or {}) do
      if step.id == step_id then
        attempts, found = step.attempts or 0, true
      end
    end
    if not found then
      log.unsubscribe()
      util.set_lines(buf, { string.format("Run %s has no step %s.", run_id, step_id) })
      return
    end
    if attempts == 0 then
      -- Nothing ran yet: every line of every attempt will arrive live.
      log.base, log.backfilled = 0, true
      local held = log.held
      log.held = {}
      util.set_lines(buf, { string.format("(%s/%s has not started yet; following it)", run_id, step_id) })
      log.empty = true
      for _, params in ipairs(held) do
        deliver(log, params)
      end
      return
    end
    log.base = attempts
    local held = log.held
    log.held = {}
    for _, params in ipairs(held) do
      on_live(log, params)
    end
    backfill(log, function(lines, next_offset)
      join(log, lines, next_offset)
    end)
  end)
  return buf
end

return M
