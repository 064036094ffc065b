-- drover://runs — every run of the workspace, newest first, re-rendered as events arrive.
local drover = require("drover")
local state = require("drover.state")
local util = require("drover.util")

local M = {}

local NAME = "drover://runs"
local line_runs = {} -- bufnr -> {line number -> run id}
local render_pending = false

local function render(buf)
  if not vim.api.nvim_buf_is_valid(buf) then
    return
  end
  local keys = { "<CR> open (↳ child runs under their parent)", "l log", "g refresh", "i inbox" }
  for _, k in ipairs({ { "run/cancel", "c cancel" }, { "run/retry", "r retry" }, { "run/restart", "R restart" },
    { "run/diff", "d diff" }, { "run/apply", "A apply" } }) do
    if drover.has(k[1]) then
      table.insert(keys, k[2])
    end
  end
  local lines = { "Drover runs in " .. drover.workspace(), "keys: " .. table.concat(keys, " · "), "" }
  local map = {}
  local highlights = {}
  local runs = state.sorted_runs()
  if #runs == 0 then
    table.insert(lines, "No runs yet. Start one with :Drover run")
  end
  local function add(run, depth)
    local status = run.status or "?"
    local children = state.children_of(run.id)
    local indent = depth > 0 and (string.rep("  ", depth) .. "↳ ") or ""
    local line = string.format("%s%s %-9s %-26s %-12s %-10s %6s %9s  %s%s", indent,
      util.status_sign[status] or "?", status, run.id, run.pipelineId or "", run.currentStep or "",
      util.age(run.createdAt), util.cost(run.usage), util.first_line(run.task),
      #children > 0 and ("   [" .. state.children_summary(children) .. "]") or "")
    table.insert(lines, line)
    map[#lines] = run.id
    table.insert(highlights, { #lines - 1, util.status_hl[status] or "DroverDim", #indent })
    for _, child in ipairs(children) do
      add(child, depth + 1)
    end
  end
  -- A child run is listed under its parent (indented, ↳); one whose parent is not listed stands alone.
  for _, run in ipairs(runs) do
    if not (run.parentRunId and state.runs[run.parentRunId]) then
      add(run, 0)
    end
  end
  util.set_lines(buf, lines)
  line_runs[buf] = map
  vim.api.nvim_buf_clear_namespace(buf, util.ns, 0, -1)
  vim.api.nvim_buf_add_highlight(buf, util.ns, "DroverHeader", 0, 0, -1)
  vim.api.nvim_buf_add_highlight(buf, util.ns, "DroverDim", 1, 0, -1)
  for _, hl in ipairs(highlights) do
    vim.api.nvim_buf_add_highlight(buf, util.ns, hl[2], hl[1], hl[3], hl[3] + 12)
  end
end

local function schedule_render(buf)
  if render_pending then
    return
  end
  render_pending = true
  vim.schedule(function()
    render_pending = false
    render(buf)
  end)
end

--- The run id on the cursor line of a runs buffer, or nil.
function M.run_at_cursor(buf)
  buf = buf or vim.api.nvim_get_current_buf()
  local map = line_runs[buf] or {}
  return map[vim.api.nvim_win_get_cursor(0)[1]]
end

local function with_run(fn)
  return function()
    local id = M.run_at_cursor()
    if id then
      fn(id)
    else
      drover.notify("no run on this line")
    end
  end
end

function M.refresh(buf)
  drover.call("run/list", { limit = 100 }, function(result)
    for _, run in ipairs(result.runs or {}) do
      state.put(run)
    end
    render(buf)
  end)
end

function M.open()
  util.define_highlights()
  local buf, created = util.scratch(NAME, "drover")
  if created then
    util.map(buf, "<CR>", with_run(drover.open_run), "Open the run")
    util.map(buf, "l", with_run(function(id)
      drover.log(id)
    end), "Log of a step")
    util.map(buf, "c", with_run(drover.cancel), "Cancel the run")
    util.map(buf, "r", with_run(drover.retry), "Retry the run")
    util.map(buf, "R", with_run(function(id)
      drover.restart(id)
    end), "Restart the run from a step")
    util.map(buf, "d", with_run(function(id)
      drover.diff(id)
    end), "Diff of the run")
    util.map(buf, "A", with_run(function(id)
      drover.apply(id)
    end), "Apply the run to your branch")
    util.map(buf, "i", drover.inbox, "Inbox")
    util.map(buf, "g", function()
      M.refresh(buf)
    end, "Refresh")
    state.on_change_while(buf, function()
      schedule_render(buf)
    end, function()
      line_runs[buf] = nil
    end)
  end
  util.show(buf)
  render(buf)
  M.refresh(buf)
  return buf
end

return M
