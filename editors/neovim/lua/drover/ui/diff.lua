-- drover://diff/<run> — what a run changed (`run/diff`): one line per file with its status and
-- +/- counts; <CR> opens that file's patch in a `diff` scratch buffer, P the whole patch, A applies
-- the run. Offered only when the server lists `run/diff` in capabilities.methods.
local drover = require("drover")
local util = require("drover.util")

local M = {}

local buffers = {} -- bufnr -> {run_id, step_id, result, files_by_line}

local status_letter = { added = "A", modified = "M", deleted = "D", renamed = "R" }

local function short(sha)
  return sha and sha:sub(1, 7) or "?"
end

--- The lines of a diff buffer and the file of each line.
function M.render_lines(run_id, step_id, result)
  local files = result.files or {}
  local additions, deletions = 0, 0
  for _, file in ipairs(files) do
    additions, deletions = additions + (file.additions or 0), deletions + (file.deletions or 0)
  end
  local lines = {
    string.format("Diff of run %s%s  %s..%s  %d file%s, +%d -%d", run_id, step_id and (", step " .. step_id) or "",
      short(result.from), short(result.to), #files, #files == 1 and "" or "s", additions, deletions),
  }
  local keys = { "<CR> patch of the file", "D side-by-side diff", "P whole patch", "g refresh" }
  if drover.has("run/apply") then
    table.insert(keys, "A apply")
  end
  table.insert(lines, "keys: " .. table.concat(keys, " · "))
  table.insert(lines, "")
  local by_line = {}
  if #files == 0 then
    table.insert(lines, step_id and "This step committed nothing." or "No changes: the run committed nothing yet.")
  end
  for _, file in ipairs(files) do
    local name = file.path
    if file.oldPath and file.oldPath ~= file.path then
      name = name .. " ← " .. file.oldPath
    end
    local counts = file.binary and "binary" or string.format("+%d -%d", file.additions or 0, file.deletions or 0)
    table.insert(lines, string.format("%s %-9s %s  %s", status_letter[file.status] or "?", file.status or "?", name,
      counts))
    by_line[#lines] = file
  end
  return lines, by_line
end

local function render(buf)
  local info = buffers[buf]
  if not info or not info.result then
    return
  end
  local lines, by_line = M.render_lines(info.run_id, info.step_id, info.result)
  util.set_lines(buf, lines)
  info.files_by_line = by_line
  vim.api.nvim_buf_clear_namespace(buf, util.ns, 0, -1)
  vim.api.nvim_buf_add_highlight(buf, util.ns, "DroverHeader", 0, 0, -1)
  vim.api.nvim_buf_add_highlight(buf, util.ns, "DroverDim", 1, 0, -1)
  for line, file in pairs(by_line) do
    local group = ({ added = "DiffAdd", deleted = "DiffDelete", modified = "DiffChange", renamed = "DiffText" })[file.status]
    if group then
      vim.api.nvim_buf_add_highlight(buf, util.ns, group, line - 1, 0, 11)
    end
  end
end

--- Shows `text` in a read-only `diff` scratch buffer called `name`, in a split below the list.
function M.show_patch(name, text)
  local buf = util.scratch(name, "diff")
  util.set_lines(buf, util.split(text ~= "" and text:gsub("\n$", "") or "(empty patch)"))
  if vim.fn.bufwinid(buf) == -1 then
    vim.cmd("belowright split")
  end
  util.show(buf)
  return buf
end

-- The content of `path` at commit `sha` in the workspace's repository ({} when it does not exist
-- there, e.g. the base of an added file). The run's commits stay reachable from its branch after
-- its worktree is removed.
local function content_at(sha, path)
  if not sha or not path then
    return {}
  end
  local lines = vim.fn.systemlist({ "git", "-C", drover.workspace(), "show", sha .. ":" .. path })
  if vim.v.shell_error ~= 0 then
    return {}
  end
  return lines
end

--- Opens a file of a diff result as a native side-by-side diff in a new tab: the base content
--- (`from`) on the left, the run's (`to`) on the right, both read-only scratch buffers.
function M.native_diff(run_id, result, file)
  local base_name = string.format("drover://diff/%s/base/%s", run_id, file.oldPath or file.path)
  local run_name = string.format("drover://diff/%s/run/%s", run_id, file.path)
  local base_lines = file.status == "added" and {} or content_at(result.from, file.oldPath or file.path)
  local run_lines = file.status == "deleted" and {} or content_at(result.to, file.path)
  vim.cmd("tabnew")
  local scratch_tab = vim.api.nvim_get_current_buf()
  local ok, ft = pcall(function()
    return vim.filetype.match({ filename = file.path }) -- Neovim 0.8+; 0.7 gets no filetype
  end)
  ft = ok and ft or nil
  local bufs = {}
  for i, spec in ipairs({ { base_name, base_lines }, { run_name, run_lines } }) do
    local buf = util.scratch(spec[1], ft)
    util.set_lines(buf, spec[2])
    if i == 2 then
      vim.cmd("rightbelow vsplit")
    end
    vim.api.nvim_set_current_buf(buf)
    vim.cmd("diffthis")
    bufs[i] = buf
  end
  if vim.api.nvim_buf_is_valid(scratch_tab) and scratch_tab ~= bufs[1] and scratch_tab ~= bufs[2] then
    vim.api.nvim_buf_delete(scratch_tab, { force = true })
  end
  return bufs[1], bufs[2]
end

--- The file on the cursor line of a diff buffer, or nil.
function M.file_at_cursor(buf)
  buf = buf or vim.api.nvim_get_current_buf()
  local info = buffers[buf]
  return info and info.files_by_line and info.files_by_line[vim.api.nvim_win_get_cursor(0)[1]]
end

local function load(buf, done)
  local info = buffers[buf]
  local params = { runId = info.run_id, stepId = info.step_id }
  drover.call("run/diff", params, function(result)
    info.result = result
    render(buf)
    if done then
      done(buf)
    end
  end)
end

--- Opens the diff buffer of a run (or of one of its steps); done(buf) runs once it is filled.
function M.open(run_id, step_id, done)
  drover.connect(function(err)
    if err then
      return drover.notify(err.message, vim.log.levels.ERROR)
    end
    if not drover.has("run/diff") then
      return drover.notify("this drover serve has no run/diff (not in capabilities.methods); diffs need a newer drover",
        vim.log.levels.WARN)
    end
    if not run_id or run_id == "" then
      return drover.pick_run("Diff of which run?", function(id)
        M.open(id, step_id, done)
      end)
    end
    util.define_highlights()
    local name = "drover://diff/" .. run_id .. (step_id and ("/step/" .. step_id) or "")
    local buf, created = util.scratch(name, "drover")
    if created then
      buffers[buf] = { run_id = run_id, step_id = step_id }
      vim.api.nvim_create_autocmd("BufWipeout", {
        buffer = buf,
        once = true,
        callback = function()
          buffers[buf] = nil
        end,
      })
      util.map(buf, "<CR>", function()
        local file = M.file_at_cursor(buf)
        if not file then
          return drover.notify("no file on this line")
        end
        M.show_patch(name .. "/" .. file.path, file.patch or "")
      end, "Patch of the file under the cursor")
      util.map(buf, "D", function()
        local file = M.file_at_cursor(buf)
        if not file then
          return drover.notify("no file on this line")
        end
        if file.binary then
          return drover.notify(file.path .. " is binary")
        end
        M.native_diff(run_id, buffers[buf].result, file)
      end, "Side-by-side diff of the file under the cursor")
      util.map(buf, "P", function()
        local info = buffers[buf]
        M.show_patch(name .. "/patch", info.result and info.result.patch or "")
      end, "The whole patch")
      util.map(buf, "A", function()
        drover.apply(run_id)
      end, "Apply the run to your branch")
      util.map(buf, "g", function()
        load(buf)
      end, "Refresh")
    end
    util.show(buf)
    if not buffers[buf].result then
      util.set_lines(buf, { "Diff of run " .. run_id .. " (loading…)" })
    end
    load(buf, done)
  end)
end

return M
