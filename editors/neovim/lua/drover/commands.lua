-- :Drover {subcommand} [args] — parsing and completion; every subcommand calls the public API.
local M = {}

local function drover()
  return require("drover")
end

-- The text of the range the command was given (the visual selection when called from it).
local function range_text(opts)
  if not opts.range or opts.range == 0 then
    return nil
  end
  local lines = vim.api.nvim_buf_get_lines(0, opts.line1 - 1, opts.line2, false)
  local start_pos, end_pos = vim.fn.getpos("'<"), vim.fn.getpos("'>")
  if vim.fn.visualmode() == "v" and start_pos[2] == opts.line1 and end_pos[2] == opts.line2 and #lines > 0 then
    lines[#lines] = lines[#lines]:sub(1, end_pos[3])
    lines[1] = lines[1]:sub(start_pos[3])
  end
  return table.concat(lines, "\n")
end

M.subcommands = {
  run = function(args, opts)
    local pipeline = args[1]
    local task = #args > 1 and table.concat(vim.list_slice(args, 2), " ") or nil
    drover().run({ pipeline = pipeline, task = task, default_task = range_text(opts) })
  end,
  runs = function()
    drover().runs()
  end,
  inbox = function()
    drover().inbox()
  end,
  log = function(args)
    drover().log(args[1], args[2])
  end,
  open = function(args)
    if args[1] then
      drover().open_run(args[1])
    else
      drover().pick_run("Open which run?", drover().open_run)
    end
  end,
  cancel = function(args)
    if args[1] then
      drover().cancel(args[1])
    else
      drover().pick_run("Cancel which run?", drover().cancel)
    end
  end,
  retry = function(args)
    if args[1] then
      drover().retry(args[1])
    else
      drover().pick_run("Retry which run?", drover().retry)
    end
  end,
  restart = function(args)
    if args[1] then
      drover().restart(args[1], args[2])
    else
      drover().pick_run("Restart which run?", function(id)
        drover().restart(id)
      end)
    end
  end,
  diff = function(args)
    drover().diff(args[1], args[2])
  end,
  apply = function(args)
    drover().apply(args[1], args[2])
  end,
  trust = function()
    drover().trust()
  end,
  stop = function()
    drover().stop()
  end,
}

function M.dispatch(opts)
  local args = vim.split(vim.trim(opts.args or ""), "%s+", { trimempty = true })
  local name = table.remove(args, 1) or "runs"
  local fn = M.subcommands[name]
  if not fn then
    local names = vim.tbl_keys(M.subcommands)
    table.sort(names)
    return vim.notify("Drover: unknown subcommand '" .. name .. "' (one of: " .. table.concat(names, ", ") .. ")",
      vim.log.levels.ERROR)
  end
  fn(args, opts)
end

local function run_ids()
  local ids = {}
  for _, run in ipairs(require("drover.state").sorted_runs()) do
    table.insert(ids, run.id)
  end
  return ids
end

function M.complete(arglead, cmdline)
  local words = vim.split(cmdline, "%s+", { trimempty = true })
  local position = #words + (cmdline:match("%s$") and 1 or 0)
  local candidates = {}
  if position <= 2 then
    candidates = vim.tbl_keys(M.subcommands)
    table.sort(candidates)
  elseif position == 3 and vim.tbl_contains({ "log", "open", "cancel", "retry", "restart", "diff", "apply" }, words[2]) then
    candidates = run_ids()
  elseif position == 4 and words[2] == "apply" then
    candidates = { "merge", "squash", "patch" }
  elseif position == 4 and (words[2] == "log" or words[2] == "restart" or words[2] == "diff") then
    local run = require("drover.state").runs[words[3]]
    for _, step in ipairs(run and run.steps or {}) do
      table.insert(candidates, step.id)
    end
  end
  return vim.tbl_filter(function(c)
    return c:sub(1, #arglead) == arglead
  end, candidates)
end

return M
