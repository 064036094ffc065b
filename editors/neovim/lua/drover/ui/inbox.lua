-- drover://inbox — every open gate across runs (inbox/list), refreshed when a gate opens or closes.
local drover = require("drover")
local state = require("drover.state")
local util = require("drover.util")

local M = {}

local NAME = "drover://inbox"
local items_by_line = {} -- bufnr -> {line -> InboxItem}
M.items = {} -- the last inbox/list answer

local gate_events = {
  ["decision.requested"] = true, ["decision.resolved"] = true, ["approval.requested"] = true,
  ["approval.resolved"] = true, ["run.cancelled"] = true, ["run.failed"] = true, ["run.retried"] = true,
  ["run.restarted"] = true, ["run.completed"] = true, ["run.children"] = true, ["run.started"] = true,
  ["step.completed"] = true,
}

--- One inbox line for an item of any kind: decisions and approvals can be answered here; "children"
--- (a parent waiting on its child runs) opens them; a kind this plugin does not know is shown as is.
local function item_line(item)
  if item.kind == "decision" then
    return string.format("? %s  %-10s decision %s: %s [%s]", item.runId, item.stepId, item.id, item.question or "",
      table.concat(item.options or {}, "/"))
  elseif item.kind == "approval" then
    local review = item.review
    return string.format("! %s  %-10s approval %s: %s%s", item.runId, item.stepId, item.id,
      util.first_line(item.proposal), review and string.format("   [review round %s: %.2f, needs %.2f, %s]",
        tostring(review.round or "?"), review.score or 0, review.threshold or 0, review.passed and "passed" or "below")
        or "")
  elseif item.kind == "children" then
    local children = item.children or {}
    return string.format("⋯ %s  %-10s waiting on %s   (<CR> opens them)", item.runId, item.stepId or "",
      state.children_summary(children))
  end
  return string.format("· %s  %-10s %s %s", tostring(item.runId), tostring(item.stepId or ""), tostring(item.kind),
    tostring(item.id or ""))
end

--- Shows M.items in the inbox buffer `buf`.
function M.render(buf)
  if not vim.api.nvim_buf_is_valid(buf) then
    return
  end
  local lines = {
    "Drover inbox — open gates",
    "keys: <CR> answer (or open the child runs) · a approve · e edit then :w · c request changes · x reject · o open run · g refresh",
    "",
  }
  local map = {}
  if #M.items == 0 then
    table.insert(lines, "Nothing waits for you.")
  end
  for _, item in ipairs(M.items) do
    table.insert(lines, item_line(item))
    map[#lines] = item
  end
  util.set_lines(buf, lines)
  items_by_line[buf] = map
  vim.api.nvim_buf_clear_namespace(buf, util.ns, 0, -1)
  vim.api.nvim_buf_add_highlight(buf, util.ns, "DroverHeader", 0, 0, -1)
  vim.api.nvim_buf_add_highlight(buf, util.ns, "DroverDim", 1, 0, -1)
end

function M.refresh(buf, done)
  drover.call("inbox/list", {}, function(result)
    M.items = result.items or {}
    M.render(buf)
    if done then
      done(M.items)
    end
  end)
end

--- The gate on the cursor line of the inbox, or nil.
function M.item_at_cursor(buf)
  buf = buf or vim.api.nvim_get_current_buf()
  return (items_by_line[buf] or {})[vim.api.nvim_win_get_cursor(0)[1]]
end

local function with_item(kind, fn)
  return function()
    local item = M.item_at_cursor()
    if not item then
      return drover.notify("no gate on this line")
    end
    if kind and item.kind ~= kind then
      return drover.notify("this item is a " .. tostring(item.kind) .. ", not " .. kind)
    end
    fn(item)
  end
end

function M.open()
  util.define_highlights()
  local buf, created = util.scratch(NAME, "drover")
  if created then
    util.map(buf, "<CR>", with_item(nil, drover.act), "Answer the gate")
    util.map(buf, "a", with_item("approval", function(item)
      drover.approve(item.runId, item.id)
    end), "Approve")
    util.map(buf, "e", with_item("approval", function(item)
      drover.edit_approval(item.runId, item.id)
    end), "Edit the proposal; :w approves it")
    util.map(buf, "c", with_item("approval", function(item)
      drover.request_changes(item.runId, item.id)
    end), "Request changes")
    util.map(buf, "x", with_item("approval", function(item)
      drover.reject(item.runId, item.id)
    end), "Reject")
    util.map(buf, "o", with_item(nil, function(item)
      drover.open_run(item.runId)
    end), "Open the run")
    util.map(buf, "g", function()
      M.refresh(buf)
    end, "Refresh")
    local pending = false
    state.on_change_while(buf, function(_, event)
      if not event or not gate_events[event.type] or pending then
        return
      end
      pending = true
      vim.schedule(function()
        pending = false
        if vim.api.nvim_buf_is_valid(buf) then
          M.refresh(buf)
        end
      end)
    end, function()
      items_by_line[buf] = nil
    end)
  end
  util.show(buf)
  M.render(buf)
  M.refresh(buf)
  return buf
end

return M
