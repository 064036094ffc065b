-- A small JSON-RPC 2.0 client for `drover serve` over libuv pipes, in LSP framing
-- (`Content-Length: N\r\n\r\n<json>`). Requests carry numeric ids and a callback; responses are
-- matched by id (they may come out of order); notifications go to handlers. Every callback runs
-- on the main loop (vim.schedule), so callers may touch buffers and windows freely.
local uv = vim.uv or vim.loop

local M = {}
local Client = {}
Client.__index = Client

local function decode(text)
  local ok, value = pcall(vim.json.decode, text, { luanil = { object = true, array = true } })
  if ok then
    return value
  end
  return nil, value
end

--- Creates a client; nothing is spawned until start().
--- opts: cmd (list), cwd, on_notification(method, params), on_exit(code, signal, stderr_tail), on_stderr(text)
function M.new(opts)
  local self = setmetatable({}, Client)
  self.cmd = opts.cmd
  self.cwd = opts.cwd
  self.on_notification = opts.on_notification or function() end
  self.on_exit = opts.on_exit or function() end
  self.next_id = 0
  self.pending = {}
  self.buffer = ""
  self.stderr_tail = {}
  self.running = false
  return self
end

--- Spawns the server. Returns true, or nil and a message a person can act on.
function Client:start()
  local cmd = self.cmd
  if type(cmd) ~= "table" or #cmd == 0 or type(cmd[1]) ~= "string" or cmd[1] == "" then
    return nil, "no drover command configured (setup{cmd = {'drover', 'serve'}})"
  end
  if vim.fn.executable(cmd[1]) ~= 1 then
    return nil, string.format("cannot find the drover binary '%s': install drover and put it on PATH, "
      .. "or point setup{cmd = {'/path/to/drover', 'serve'}} at it", cmd[1])
  end
  local stdin, stdout, stderr = uv.new_pipe(false), uv.new_pipe(false), uv.new_pipe(false)
  local args = {}
  for i = 2, #cmd do
    args[#args + 1] = cmd[i]
  end
  local handle, pid_or_err
  -- The exit is reported once the process has exited and its stderr reached EOF (or 500 ms later),
  -- so the report can quote what the server printed last.
  local exit_status, stderr_done, reported = nil, false, false
  local function report()
    if reported or not exit_status then
      return
    end
    reported = true
    vim.schedule(function()
      local tail = table.concat(self.stderr_tail, "\n")
      local code, signal = exit_status[1], exit_status[2]
      local why = signal and signal ~= 0 and ("signal " .. signal) or ("exit code " .. tostring(code))
      self:_fail_pending("drover serve exited (" .. why .. ")" .. (tail ~= "" and (": " .. tail) or ""))
      self.on_exit(code, signal, tail)
    end)
  end
  handle, pid_or_err = uv.spawn(cmd[1], { args = args, stdio = { stdin, stdout, stderr }, cwd = self.cwd },
    function(code, signal)
      self.running = false
      if self.handle and not self.handle:is_closing() then
        self.handle:close()
      end
      if not stdin:is_closing() then
        stdin:close()
      end
      exit_status = { code, signal }
      if stderr_done then
        report()
      else
        local timer = uv.new_timer()
        timer:start(500, 0, function()
          timer:close()
          report()
        end)
      end
    end)
  if not handle then
    for _, pipe in ipairs({ stdin, stdout, stderr }) do
      pipe:close()
    end
    return nil, string.format("cannot start '%s': %s", cmd[1], tostring(pid_or_err))
  end
  self.handle, self.pid = handle, pid_or_err
  self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
  self.running = true
  stdout:read_start(function(err, chunk)
    if chunk then
      vim.schedule(function()
        self:_feed(chunk)
      end)
    elseif not stdout:is_closing() then
      stdout:close()
    end
  end)
  stderr:read_start(function(err, chunk)
    if chunk then
      vim.schedule(function()
        for line in chunk:gmatch("[^\n]+") do
          table.insert(self.stderr_tail, line)
          if #self.stderr_tail > 20 then
            table.remove(self.stderr_tail, 1)
          end
        end
      end)
    else
      if not stderr:is_closing() then
        stderr:close()
      end
      -- Scheduled after the last chunk's handler, so the tail is complete when reported.
      vim.schedule(function()
        stderr_done = true
        report()
      end)
    end
  end)
  return true
end

function Client:_fail_pending(message)
  local pending = self.pending
  self.pending = {}
  for _, entry in pairs(pending) do
    entry.callback({ code = -32099, message = message, exited = true }, nil)
  end
end

-- Splits the byte stream into LSP-framed messages and dispatches each. `pos` walks the buffer so a
-- chunk holding hundreds of messages is not copied once per message.
function Client:_feed(chunk)
  local buffer = self.buffer .. chunk
  local pos = 1
  while true do
    local header_end = buffer:find("\r\n\r\n", pos, true)
    if not header_end then
      break
    end
    local header = buffer:sub(pos, header_end - 1)
    local length = tonumber(header:lower():match("content%-length:%s*(%d+)"))
    local body_start = header_end + 4
    if not length then
      -- Cannot happen with drover serve; drop the header block rather than loop forever.
      pos = body_start
    else
      if #buffer < body_start + length - 1 then
        break
      end
      local message = decode(buffer:sub(body_start, body_start + length - 1))
      pos = body_start + length
      if type(message) == "table" then
        local ok, err = pcall(self._dispatch, self, message)
        if not ok then
          vim.notify("drover: error while handling a message: " .. tostring(err), vim.log.levels.ERROR)
        end
      end
    end
  end
  self.buffer = buffer:sub(pos)
end

function Client:_dispatch(message)
  if message.method then
    if message.id == nil then
      self.on_notification(message.method, message.params or {})
    end
    return
  end
  local entry = message.id and self.pending[message.id]
  if not entry then
    return
  end
  self.pending[message.id] = nil
  if message.error then
    entry.callback(message.error, nil)
  else
    entry.callback(nil, message.result)
  end
end

function Client:_write(message)
  message.jsonrpc = "2.0"
  local body = vim.json.encode(message)
  self.stdin:write(string.format("Content-Length: %d\r\n\r\n%s", #body, body))
end

--- Sends a request; callback(err, result) runs on the main loop. Returns the request id.
function Client:request(method, params, callback)
  callback = callback or function() end
  if not self.running then
    vim.schedule(function()
      callback({ code = -32099, message = "drover serve is not running" }, nil)
    end)
    return nil
  end
  self.next_id = self.next_id + 1
  local id = self.next_id
  self.pending[id] = { method = method, callback = callback }
  if params == nil or (type(params) == "table" and next(params) == nil) then
    params = vim.empty_dict()
  end
  self:_write({ id = id, method = method, params = params })
  return id
end

function Client:notify(method, params)
  if not self.running then
    return
  end
  if params == nil or (type(params) == "table" and next(params) == nil) then
    params = vim.empty_dict()
  end
  self:_write({ method = method, params = params })
end

--- Asks the server to stop (shutdown, exit); it also stops when its stdin closes.
function Client:stop()
  if not self.running then
    return
  end
  self.stopping = true
  self:request("shutdown", nil, function()
    self:notify("exit")
    if self.stdin and not self.stdin:is_closing() then
      self.stdin:close()
    end
  end)
end

--- Kills the process right away (used on VimLeavePre when waiting is not an option).
function Client:kill(signal)
  if self.handle and self.running then
    self.stopping = true
    uv.process_kill(self.handle, signal or "sigterm")
  end
end

return M
