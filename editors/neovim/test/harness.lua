-- Test harness, run inside `nvim --headless -u NONE` by run.sh: one test file per Neovim process.
-- Each test gets a fresh `git init` workspace, a fresh DROVER_CONFIG_DIR and a fresh plugin (its
-- modules reloaded), talks to the real `drover serve` ($DROVER_BIN), and answers vim.ui prompts the
-- way a user would, through queued answers. Waiting is always on a condition with a deadline.
local H = {}

local uv = vim.uv or vim.loop
H.tests = {}
H.notes = {} -- vim.notify messages of the current test
H.prompts = {} -- vim.ui prompts of the current test: {kind=, prompt=, items=}
local answers = {}
local spawned = {} -- clients/pids to clean up

function H.test(name, fn)
  table.insert(H.tests, { name = name, fn = fn })
end

--- Waits until cond() is truthy (returning its value) or fails the test after `timeout` ms.
function H.wait(cond, what, timeout)
  local value
  local ok = vim.wait(timeout or 15000, function()
    value = cond()
    return value
  end, 10)
  if not ok then
    error("timed out waiting for " .. what, 2)
  end
  return value
end

function H.eq(expected, actual, what)
  if vim.tbl_islist(expected) and type(actual) == "table" and #expected > 20 and not vim.deep_equal(expected, actual) then
    for i = 1, math.max(#expected, #actual) do
      if expected[i] ~= actual[i] then
        error(string.format("%s: %d lines expected, %d got; first difference at line %d: expected %s, got %s (then %s)",
          what or "list", #expected, #actual, i, vim.inspect(expected[i]), vim.inspect(actual[i]),
          vim.inspect(vim.list_slice(actual, i + 1, i + 3))), 2)
      end
    end
  end
  if not vim.deep_equal(expected, actual) then
    error(string.format("%s: expected %s, got %s", what or "value", vim.inspect(expected), vim.inspect(actual)), 2)
  end
end

function H.truthy(value, what)
  if not value then
    error((what or "expected a true value") .. ", got " .. vim.inspect(value), 2)
  end
  return value
end

--- Queues the answer to the next vim.ui.select: a string picks the item whose displayed text
--- contains it; a function(items, opts) returns the item; nil answers "cancelled".
function H.answer_select(answer)
  table.insert(answers, { kind = "select", answer = answer })
end

--- Queues the text typed at the next vim.ui.input (nil = the user pressed <Esc>).
function H.answer_input(text)
  table.insert(answers, { kind = "input", answer = text })
end

function H.unanswered()
  return #answers
end

local function stub_ui()
  vim.ui.select = function(items, opts, on_choice)
    opts = opts or {}
    local format = opts.format_item or tostring
    local shown = {}
    for i, item in ipairs(items) do
      shown[i] = format(item)
    end
    table.insert(H.prompts, { kind = "select", prompt = opts.prompt, items = shown })
    local next_answer = table.remove(answers, 1)
    if not next_answer or next_answer.kind ~= "select" then
      table.insert(H.notes, { message = "UNEXPECTED vim.ui.select: " .. tostring(opts.prompt) })
      error("unexpected vim.ui.select: " .. tostring(opts.prompt) .. " " .. vim.inspect(shown))
    end
    local picked
    if type(next_answer.answer) == "function" then
      picked = next_answer.answer(items, opts)
    elseif next_answer.answer ~= nil then
      for i, text in ipairs(shown) do
        if text:find(next_answer.answer, 1, true) then
          picked = items[i]
          break
        end
      end
      if picked == nil then
        error("no choice '" .. next_answer.answer .. "' in " .. vim.inspect(shown))
      end
    end
    vim.schedule(function()
      on_choice(picked, picked and vim.tbl_contains(items, picked) and nil)
    end)
  end
  vim.ui.input = function(opts, on_confirm)
    opts = opts or {}
    table.insert(H.prompts, { kind = "input", prompt = opts.prompt, default = opts.default })
    local next_answer = table.remove(answers, 1)
    if not next_answer or next_answer.kind ~= "input" then
      table.insert(H.notes, { message = "UNEXPECTED vim.ui.input: " .. tostring(opts.prompt) })
      error("unexpected vim.ui.input: " .. tostring(opts.prompt))
    end
    vim.schedule(function()
      on_confirm(next_answer.answer)
    end)
  end
  vim.notify = function(message, level)
    table.insert(H.notes, { message = message, level = level })
  end
end

function H.noted(pattern)
  for _, note in ipairs(H.notes) do
    if note.message:find(pattern) then
      return note
    end
  end
end

function H.notes_matching(pattern)
  local found = {}
  for _, note in ipairs(H.notes) do
    if note.message:find(pattern) then
      table.insert(found, note)
    end
  end
  return found
end

local function unload_plugin()
  for name in pairs(package.loaded) do
    if name == "drover" or name:match("^drover%.") then
      package.loaded[name] = nil
    end
  end
end

--- A fresh workspace, config dir and plugin; returns (drover module, workspace path).
function H.fresh(setup)
  H.notes, H.prompts, answers = {}, {}, {}
  local ws = vim.fn.tempname() .. "-ws"
  vim.fn.mkdir(ws, "p")
  vim.fn.system({ "git", "init", "-q", ws })
  local config = vim.fn.tempname() .. "-config"
  vim.fn.mkdir(config, "p")
  vim.env.DROVER_CONFIG_DIR = config
  H.config = config
  vim.cmd("cd " .. vim.fn.fnameescape(ws))
  unload_plugin()
  local drover = require("drover")
  drover.setup(vim.tbl_extend("force", { cmd = { H.bin, "serve" } }, setup or {}))
  H.drover, H.ws = drover, ws
  return drover, ws
end

--- Writes <ws>/.drover/pipelines/<id>.json.
function H.pipeline(id, definition)
  local dir = H.ws .. "/.drover/pipelines"
  vim.fn.mkdir(dir, "p")
  vim.fn.writefile({ vim.json.encode(definition) }, dir .. "/" .. id .. ".json")
end

--- Copies the shared fixture pipelines (editors/fixtures/pipelines/*.json) and agent config into
--- the workspace, makes a first commit (so runs get worktrees and children merge) and trusts it.
function H.fixture_workspace()
  local dir = H.ws .. "/.drover/pipelines"
  vim.fn.mkdir(dir, "p")
  for _, file in ipairs(vim.fn.glob(H.fixtures .. "/pipelines/*.json", false, true)) do
    vim.fn.writefile(vim.fn.readfile(file), dir .. "/" .. vim.fn.fnamemodify(file, ":t"))
  end
  vim.fn.writefile(vim.fn.readfile(H.fixtures .. "/config.json"), H.ws .. "/.drover/config.json")
  vim.fn.writefile({ "readme" }, H.ws .. "/README.md")
  for _, args in ipairs({ { "config", "user.email", "test@drover.invalid" }, { "config", "user.name", "Drover Test" },
    { "add", "README.md" }, { "commit", "-q", "-m", "initial" } }) do
    local out = vim.fn.system(vim.list_extend({ "git", "-C", H.ws }, args))
    if vim.v.shell_error ~= 0 then
      error("git " .. table.concat(args, " ") .. " failed: " .. out, 2)
    end
  end
  H.call("workspace/trust", { trusted = true })
end

--- A one-step fake-agent pipeline with the given script turns.
function H.fake_pipeline(id, turns, extra)
  local step = { id = "s", kind = "agent", role = "x", prompt = "p", agent = { driver = "fake", script = turns } }
  for k, v in pairs(extra or {}) do
    step[k] = v
  end
  H.pipeline(id, { name = id, description = "test pipeline " .. id, steps = { step } })
end

--- A second, independent client on the same workspace (another editor, say). Returns it initialized.
function H.other_client()
  local client = require("drover.client").new({ cmd = { H.bin, "serve" }, cwd = H.ws })
  assert(client:start())
  table.insert(spawned, client)
  local done
  client:request("initialize", { workspace = H.ws }, function(err)
    done = { err = err }
  end)
  H.wait(function()
    return done
  end, "the other client's initialize")
  if done.err then
    error("other client initialize failed: " .. vim.inspect(done.err))
  end
  return client
end

--- Sends a request on a client and waits for its answer; returns result, error.
function H.request(client, method, params)
  local answer
  client:request(method, params, function(err, result)
    answer = { err = err, result = result }
  end)
  H.wait(function()
    return answer
  end, "the answer to " .. method)
  return answer.result, answer.err
end

--- Asks the plugin's own server (through the public API) and waits for the result.
function H.call(method, params)
  local answer
  H.drover.call(method, params, function(result)
    answer = { result = result }
  end, function(err)
    answer = { err = err }
    return "handled"
  end)
  H.wait(function()
    return answer
  end, "the answer to " .. method)
  if answer.err then
    error(method .. " failed: " .. vim.inspect(answer.err), 2)
  end
  return answer.result
end

function H.buf_by_name(name)
  local buf = vim.fn.bufnr("^" .. vim.fn.escape(name, "\\/.*$^~[]") .. "$")
  if buf == -1 then
    return nil
  end
  return buf
end

function H.lines(buf)
  if not buf or not vim.api.nvim_buf_is_valid(buf) then
    return {}
  end
  return vim.api.nvim_buf_get_lines(buf, 0, -1, false)
end

function H.text(buf)
  return table.concat(H.lines(buf), "\n")
end

--- Waits until buffer `name` exists and its text contains `needle` (plain); returns the buffer.
function H.wait_buf(name, needle, timeout)
  return H.wait(function()
    local buf = H.buf_by_name(name)
    if buf and H.text(buf):find(needle, 1, true) then
      return buf
    end
  end, string.format("buffer %s to show %q (it shows: %s)", name, needle,
    vim.inspect(H.lines(H.buf_by_name(name)))), timeout)
end

--- Puts the cursor of the current window on the first line containing `needle`.
function H.cursor_to(needle)
  for i, line in ipairs(vim.api.nvim_buf_get_lines(0, 0, -1, false)) do
    if line:find(needle, 1, true) then
      vim.api.nvim_win_set_cursor(0, { i, 0 })
      return i
    end
  end
  error("no line with " .. needle .. " in " .. vim.api.nvim_buf_get_name(0))
end

--- Types keys in normal mode as a user would (mappings apply).
function H.press(keys)
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(keys, true, false, true), "mx", false)
end

--- Waits for the run (read back from the server) to satisfy pred(run); returns the run.
function H.wait_run(run_id, pred, what, timeout)
  return H.wait(function()
    local run = H.call("run/get", { runId = run_id }).run
    if pred(run) then
      return run
    end
  end, what or ("run " .. run_id), timeout)
end

function H.step(run, id)
  for _, step in ipairs(run.steps) do
    if step.id == id then
      return step
    end
  end
end

--- Starts a pipeline through the API (no buffer opened) and returns the run id.
function H.start_run(pipeline, task)
  local run_id
  H.drover.run({ pipeline = pipeline, task = task, open = false, on_started = function(run)
    run_id = run.id
  end })
  return H.wait(function()
    return run_id
  end, "run/start")
end

--- Starts the demo pipeline through the API and returns the run id.
function H.start_demo(task)
  return H.start_run("demo", task or "Add a --verbose flag")
end

local function alive(pid)
  return pid and uv.kill(pid, 0) == 0
end

function H.cleanup()
  local drover = package.loaded["drover"]
  local pids = {}
  if drover and drover.pid() then
    table.insert(pids, drover.pid())
    drover.stop()
  end
  for _, client in ipairs(spawned) do
    if client.running then
      table.insert(pids, client.pid)
      client.stopping = true
      client:stop()
    end
  end
  spawned = {}
  vim.wait(5000, function()
    for _, pid in ipairs(pids) do
      if alive(pid) then
        return false
      end
    end
    return true
  end, 20)
  for _, pid in ipairs(pids) do
    if alive(pid) then
      uv.kill(pid, "sigkill")
    end
  end
  vim.cmd("silent! %bwipe!")
  -- The workspace's engine outlives the server (until its idle timeout) and still writes in .drover:
  -- stop it (this returns once it has exited), then remove the test's folders.
  if H.ws then
    vim.fn.system({ H.bin, "engine", "stop", "--quiet", "--workspace", H.ws })
    vim.cmd("cd " .. vim.fn.fnameescape(vim.fn.fnamemodify(H.ws, ":h")))
    vim.fn.delete(H.ws, "rf")
    vim.fn.delete(H.config, "rf")
    H.ws, H.config = nil, nil
  end
end

function H.main(plugin, file, results)
  H.bin = vim.env.DROVER_BIN
  H.fixtures = vim.fn.fnamemodify(plugin, ":h") .. "/fixtures"
  vim.opt.rtp:prepend(plugin)
  vim.cmd("runtime plugin/drover.lua")
  stub_ui()
  local out = assert(io.open(results, "a"))
  local ok, err = pcall(dofile, file)
  if not ok then
    out:write("FAIL " .. vim.fn.fnamemodify(file, ":t") .. ": cannot load: " .. tostring(err) .. "\n")
  end
  for _, t in ipairs(H.tests) do
    local started = uv.hrtime()
    local passed, message = xpcall(t.fn, debug.traceback)
    local cleaned, cleanup_err = pcall(H.cleanup)
    if passed and not cleaned then
      passed, message = false, "cleanup: " .. tostring(cleanup_err)
    end
    if passed and H.unanswered() > 0 then
      passed, message = false, H.unanswered() .. " queued UI answers were never asked for"
    end
    local ms = (uv.hrtime() - started) / 1e6
    if passed then
      out:write(string.format("PASS %s (%.1fs)\n", t.name, ms / 1000))
    else
      out:write(string.format("FAIL %s (%.1fs): %s\n", t.name, ms / 1000, tostring(message):gsub("\n", "\n    ")))
      out:write("    notifications: " .. vim.inspect(vim.tbl_map(function(n)
        return n.message
      end, H.notes)):gsub("\n", "\n    ") .. "\n")
    end
    out:flush()
  end
  out:write("DONE " .. vim.fn.fnamemodify(file, ":t") .. "\n")
  out:close()
  vim.cmd("qa!")
end

_G.H = H
return H
