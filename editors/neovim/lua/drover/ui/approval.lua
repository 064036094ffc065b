-- drover://approval/<run>/<id> — a proposal to edit; :w approves the edited text (step/approve with
-- `proposal`). The buffer is not a file: buftype=acwrite routes :w to BufWriteCmd.
local drover = require("drover")
local util = require("drover.util")

local M = {}

function M.open(run_id, approval_id)
  drover.call("run/get", { runId = run_id }, function(result)
    local approval, step_id
    for _, step in ipairs(result.run.steps or {}) do
      if step.approval and step.approval.id == approval_id then
        approval, step_id = step.approval, step.id
      end
    end
    if not approval then
      return drover.notify(string.format("no approval %s in run %s", approval_id, run_id), vim.log.levels.ERROR)
    end
    if approval.status ~= "pending" then
      return drover.notify(string.format("approval %s is already %s", approval_id, approval.status),
        vim.log.levels.WARN)
    end
    local name = string.format("drover://approval/%s/%s", run_id, approval_id)
    local buf = vim.fn.bufnr("^" .. vim.fn.escape(name, "\\/.*$^~[]") .. "$")
    if buf == -1 then
      buf = vim.api.nvim_create_buf(true, false)
      vim.api.nvim_buf_set_name(buf, name)
      vim.api.nvim_buf_set_option(buf, "buftype", "acwrite")
      vim.api.nvim_buf_set_option(buf, "bufhidden", "wipe")
      vim.api.nvim_buf_set_option(buf, "swapfile", false)
      vim.api.nvim_buf_set_option(buf, "filetype", "markdown")
      vim.api.nvim_buf_set_lines(buf, 0, -1, false, util.split(approval.proposal))
      vim.api.nvim_buf_set_option(buf, "modified", false)
      vim.api.nvim_create_autocmd("BufWriteCmd", {
        buffer = buf,
        callback = function()
          local text = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n")
          drover.approve(run_id, approval_id, text, function()
            if vim.api.nvim_buf_is_valid(buf) then
              vim.api.nvim_buf_set_option(buf, "modified", false)
              vim.b[buf].drover_approved = true
            end
          end)
        end,
      })
    end
    util.show(buf)
    drover.notify(string.format("editing the proposal of %s/%s: :w approves it, :bwipe! abandons it", run_id,
      step_id))
  end)
end

return M
