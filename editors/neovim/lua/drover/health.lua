-- :checkhealth drover — the binary, its version, the protocol version it speaks, and whether the
-- workspace is trusted, each with how to fix it. (Neovim 0.7 has `health`, 0.8+ has `vim.health`.)
local M = {}

local function reporter()
  local h = vim.health
  if h and h.start then
    return { start = h.start, ok = h.ok, warn = h.warn, error = h.error, info = h.info }
  end
  h = require("health")
  return { start = h.report_start, ok = h.report_ok, warn = h.report_warn, error = h.report_error,
    info = h.report_info }
end

local function config_dir()
  local dir = vim.env.DROVER_CONFIG_DIR
  if dir and dir ~= "" then
    return dir
  end
  local xdg = vim.env.XDG_CONFIG_HOME
  if xdg and xdg ~= "" then
    return xdg .. "/drover"
  end
  return (vim.env.HOME or "") .. "/.config/drover"
end

--- Whether `workspace` is in <config>/trust.json (nil when that cannot be read).
function M.is_trusted(workspace)
  local path = config_dir() .. "/trust.json"
  if vim.fn.filereadable(path) ~= 1 then
    return false, path
  end
  local ok, data = pcall(vim.json.decode, table.concat(vim.fn.readfile(path), "\n"))
  if not ok or type(data) ~= "table" then
    return nil, path
  end
  local key = (vim.loop.fs_realpath(workspace) or workspace)
  for _, trusted in ipairs(data.trusted or {}) do
    if trusted == key then
      return true, path
    end
  end
  return false, path
end

-- Starts a throwaway server in an empty folder and returns its initialize result (or nil, error).
local function probe_protocol(cmd)
  local dir = vim.fn.tempname()
  vim.fn.mkdir(dir, "p")
  local c = require("drover.client").new({ cmd = cmd, cwd = dir })
  local ok, err = c:start()
  if not ok then
    return nil, err
  end
  local result, failure
  c:request("initialize", { protocolVersion = 1, clientInfo = { name = "drover.nvim-health" }, workspace = dir },
    function(e, r)
      result, failure = r, e or false
    end)
  vim.wait(5000, function()
    return failure ~= nil
  end, 20)
  c.stopping = true
  c:stop()
  vim.wait(2000, function()
    return not c.running
  end, 20)
  c:kill("sigkill")
  vim.fn.delete(dir, "rf")
  if failure == nil then
    return nil, "no answer to initialize within 5 seconds"
  end
  if failure then
    return nil, failure.message
  end
  return result
end

function M.check()
  local report = reporter()
  local drover = require("drover")
  local cmd = drover.config.cmd
  report.start("drover: the binary")
  local binary = type(cmd) == "table" and cmd[1] or nil
  if not binary or vim.fn.executable(binary) ~= 1 then
    report.error(string.format("cannot find the drover binary '%s'", tostring(binary)), {
      "Install drover and put it on PATH,",
      "or point the plugin at it: require('drover').setup{cmd = {'/path/to/drover', 'serve'}}",
    })
    return
  end
  report.ok("found " .. vim.fn.exepath(binary))
  local version = vim.fn.system({ binary, "--version" })
  if vim.v.shell_error == 0 then
    report.ok("version: " .. vim.trim(version))
  else
    report.warn("`" .. binary .. " --version` failed: " .. vim.trim(version),
      { "Is this really drover? Reinstall it." })
  end

  report.start("drover: the protocol")
  local info, err = probe_protocol(cmd)
  if not info then
    report.error("`" .. table.concat(cmd, " ") .. "` did not initialize: " .. tostring(err),
      { "Run `" .. table.concat(cmd, " ") .. "` in a terminal to see why." })
  else
    report.ok(string.format("protocol version %s (server %s %s)", tostring(info.protocolVersion),
      info.serverInfo and info.serverInfo.name or "?", info.serverInfo and info.serverInfo.version or "?"))
    local methods = (info.capabilities or {}).methods or {}
    report.info("methods: " .. table.concat(methods, ", "))
  end
  if drover.is_connected() then
    report.ok("connected (pid " .. tostring(drover.pid()) .. ")")
  else
    report.info("not connected yet: the first :Drover command starts the server")
  end

  report.start("drover: the workspace")
  local workspace = drover.workspace()
  report.info("workspace: " .. workspace)
  local trusted, path = M.is_trusted(workspace)
  if trusted then
    report.ok("the workspace is trusted (" .. path .. ")")
  elseif trusted == nil then
    report.warn("cannot read " .. path, { "Fix or delete that file, then trust again with :Drover trust" })
  else
    report.warn("the workspace is not trusted: its own pipelines (.drover/pipelines) cannot run", {
      "Run :Drover trust (it asks first), or `drover trust` in a terminal.",
      "Built-in pipelines such as demo run without trust.",
    })
  end
end

return M
