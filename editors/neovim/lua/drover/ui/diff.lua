-- :Drover diff — only offered when the server lists `run/diff` in capabilities.methods. No released
-- server has it yet and its result shape is not in protocol/README.md, so this says so instead of
-- guessing at a format.
local drover = require("drover")

local M = {}

function M.open(run_id)
  drover.connect(function(err)
    if err then
      return drover.notify(err.message, vim.log.levels.ERROR)
    end
    if not drover.has("run/diff") then
      return drover.notify("this drover serve has no run/diff (not in capabilities.methods); diffs need a newer drover",
        vim.log.levels.WARN)
    end
    drover.notify("run/diff is listed by the server but this plugin version cannot show it yet (run " ..
      tostring(run_id) .. ")", vim.log.levels.WARN)
  end)
end

return M
