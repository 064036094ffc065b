-- Small helpers shared by the buffers: scratch buffers, time and money formatting, highlights.
local M = {}

M.ns = vim.api.nvim_create_namespace("drover")

local defined = false
function M.define_highlights()
  if defined then
    return
  end
  defined = true
  local links = {
    DroverDone = "String",
    DroverRunning = "Identifier",
    DroverBlocked = "WarningMsg",
    DroverFailed = "ErrorMsg",
    DroverCancelled = "Comment",
    DroverHeader = "Title",
    DroverGate = "Question",
    DroverDim = "Comment",
  }
  for group, target in pairs(links) do
    vim.cmd(string.format("highlight default link %s %s", group, target))
  end
end

M.status_sign = {
  queued = "·", running = "▶", blocked = "?", paused = "‖", done = "✓", failed = "✗", cancelled = "⊘",
}
M.status_hl = {
  queued = "DroverDim", running = "DroverRunning", blocked = "DroverBlocked", paused = "DroverBlocked",
  done = "DroverDone", failed = "DroverFailed", cancelled = "DroverCancelled",
}
M.step_sign = {
  pending = "·", working = "▶", waiting = "?", done = "✓", failed = "✗", skipped = "-",
}

--- Finds or creates the scratch buffer called `name` (e.g. drover://runs). Returns bufnr, created.
function M.scratch(name, filetype)
  local existing = vim.fn.bufnr("^" .. vim.fn.escape(name, "\\/.*$^~[]") .. "$")
  if existing ~= -1 and vim.api.nvim_buf_is_valid(existing) then
    return existing, false
  end
  local buf = vim.api.nvim_create_buf(true, true)
  vim.api.nvim_buf_set_name(buf, name)
  vim.api.nvim_buf_set_option(buf, "buftype", "nofile")
  vim.api.nvim_buf_set_option(buf, "bufhidden", "hide")
  vim.api.nvim_buf_set_option(buf, "swapfile", false)
  vim.api.nvim_buf_set_option(buf, "modifiable", false)
  if filetype then
    vim.api.nvim_buf_set_option(buf, "filetype", filetype)
  end
  return buf, true
end

--- Replaces a read-only buffer's lines.
function M.set_lines(buf, lines)
  if not vim.api.nvim_buf_is_valid(buf) then
    return
  end
  vim.api.nvim_buf_set_option(buf, "modifiable", true)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.api.nvim_buf_set_option(buf, "modifiable", false)
  vim.api.nvim_buf_set_option(buf, "modified", false)
end

--- Shows buf in the current window unless a window already shows it.
function M.show(buf)
  local win = vim.fn.bufwinid(buf)
  if win ~= -1 then
    vim.api.nvim_set_current_win(win)
  else
    vim.api.nvim_set_current_buf(buf)
  end
end

function M.map(buf, lhs, fn, desc)
  vim.api.nvim_buf_set_keymap(buf, "n", lhs, "", { noremap = true, silent = true, callback = fn, desc = desc })
end

--- Seconds since the epoch of an ISO 8601 UTC timestamp such as 2025-01-31T12:00:00.123Z.
function M.parse_time(text)
  if type(text) ~= "string" then
    return nil
  end
  local y, mo, d, h, mi, s = text:match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):([%d%.]+)")
  if not y then
    return nil
  end
  local local_time = os.time({ year = tonumber(y), month = tonumber(mo), day = tonumber(d), hour = tonumber(h),
    min = tonumber(mi), sec = 0, isdst = false })
  local now = os.time()
  local offset = os.difftime(now, os.time(os.date("!*t", now)))
  return local_time + offset + tonumber(s)
end

function M.duration(seconds)
  if not seconds then
    return ""
  end
  if seconds < 60 then
    return string.format("%.1fs", seconds)
  elseif seconds < 3600 then
    return string.format("%dm%02ds", math.floor(seconds / 60), math.floor(seconds % 60))
  elseif seconds < 86400 then
    return string.format("%dh%02dm", math.floor(seconds / 3600), math.floor(seconds % 3600 / 60))
  end
  return string.format("%dd", math.floor(seconds / 86400))
end

function M.age(iso)
  local t = M.parse_time(iso)
  if not t then
    return ""
  end
  local seconds = math.max(0, os.time() - t)
  if seconds < 60 then
    return string.format("%ds", math.floor(seconds))
  end
  local text = M.duration(seconds):gsub("%d+s$", "")
  return text
end

function M.cost(usage)
  if not usage or ((usage.costUSD or 0) == 0 and (usage.inputTokens or 0) == 0) then
    return ""
  end
  if (usage.costUSD or 0) > 0 then
    return string.format("$%.4f", usage.costUSD)
  end
  return string.format("%dtok", (usage.inputTokens or 0) + (usage.outputTokens or 0))
end

function M.first_line(text)
  text = text or ""
  return (text:match("^[^\n]*") or "")
end

function M.split(text)
  return vim.split(text or "", "\n", { plain = true })
end

return M
