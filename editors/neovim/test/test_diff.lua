-- :Drover diff and :Drover apply against a run isolated in its own git worktree: the files it
-- changed, each file's patch, applying it with merge, and a refused apply that changes nothing.
local H = _G.H

local function git(...)
  local out = vim.fn.system(vim.list_extend({ "git", "-C", H.ws }, { ... }))
  if vim.v.shell_error ~= 0 then
    error("git " .. table.concat({ ... }, " ") .. " failed: " .. out, 2)
  end
  return vim.trim(out)
end

-- A workspace with one commit and a trusted pipeline whose fake agent writes hello.txt; runs it to
-- `done` and returns the run id.
local function done_run()
  H.fresh()
  git("config", "user.email", "test@drover.invalid")
  git("config", "user.name", "Drover Test")
  vim.fn.writefile({ "readme" }, H.ws .. "/README.md")
  git("add", "README.md")
  git("commit", "-q", "-m", "initial")
  H.fake_pipeline("writer", { { { write = { path = "hello.txt", text = "hello from the agent\nsecond line\n" } },
    { write = { path = "README.md", text = "readme\nby the agent\n" } }, { result = "wrote hello.txt" } } })
  H.call("workspace/trust", { trusted = true })
  local run_id
  H.drover.run({ pipeline = "writer", task = "write hello", open = false, on_started = function(run)
    run_id = run.id
  end })
  run_id = H.wait(function()
    return run_id
  end, "run/start")
  H.wait_run(run_id, function(r)
    return r.status == "done"
  end, "the run to be done")
  return run_id
end

H.test(":Drover diff lists the run's files; <CR> opens the file's patch; the run view shows worktree and commits", function()
  local run_id = done_run()
  local head_before = git("rev-parse", "HEAD")
  vim.cmd("Drover diff " .. run_id)
  local name = "drover://diff/" .. run_id
  local buf = H.wait_buf(name, "hello.txt")
  local text = H.text(buf)
  H.truthy(text:find("A added     hello.txt  +2 -0", 1, true), "file line with status and counts: " .. text)
  H.truthy(text:find("M modified  README.md  +1 -0", 1, true), "modified file line: " .. text)
  H.truthy(text:find("2 files, +3 -0", 1, true), "totals in the header: " .. text)
  H.cursor_to("hello.txt")
  H.press("<CR>")
  local patch = H.wait_buf(name .. "/hello.txt", "+hello from the agent")
  H.eq("diff", vim.api.nvim_buf_get_option(patch, "filetype"), "patch buffer filetype")
  local lines = H.lines(patch)
  H.eq("diff --git a/hello.txt b/hello.txt", lines[1], "patch starts at its diff --git line")
  H.eq("+second line", lines[#lines], "patch ends with the last added line")

  -- D: base and run content side by side, as a native diff.
  vim.cmd("wincmd p")
  H.eq(name, vim.api.nvim_buf_get_name(0), "back in the file list")
  H.cursor_to("hello.txt")
  H.press("D")
  local run_side = H.wait_buf(name .. "/run/hello.txt", "second line")
  H.eq({ "hello from the agent", "second line" }, H.lines(run_side), "the run's content")
  H.eq({ "" }, H.lines(H.buf_by_name(name .. "/base/hello.txt")), "an added file has no base content")
  H.eq(2, #vim.tbl_filter(function(win)
    return vim.wo[win].diff
  end, vim.api.nvim_tabpage_list_wins(0)), "two windows in diff mode")
  vim.cmd("tabprevious")
  vim.cmd("wincmd t")
  H.cursor_to("README.md")
  H.press("D")
  H.wait_buf(name .. "/run/README.md", "by the agent")
  H.eq({ "readme" }, H.lines(H.buf_by_name(name .. "/base/README.md")), "the base content of a modified file")
  H.eq(head_before, git("rev-parse", "HEAD"), "looking at a diff changes nothing")

  vim.cmd("Drover open " .. run_id)
  local run_buf = H.wait_buf("drover://run/" .. run_id, "commit ")
  local run_text = H.text(run_buf)
  H.truthy(run_text:find("workspace: worktree " .. H.ws .. "/.drover/worktrees/" .. run_id, 1, true),
    "worktree path shown: " .. run_text)
  H.truthy(run_text:find("branch: drover/" .. run_id, 1, true), "branch shown: " .. run_text)
  H.truthy(run_text:find("(attempt 1): 2 files, +3 -0", 1, true), "the step's commit shown: " .. run_text)
  H.truthy(run_text:find("A apply", 1, true), "apply offered: " .. run_text)
end)

H.test(":Drover apply merges the run into the user's branch; an uncommitted edit of the same file is refused", function()
  local run_id = done_run()
  local head_before = git("rev-parse", "HEAD")

  -- Refusal first: the user has an uncommitted hello.txt of their own.
  vim.fn.writefile({ "my own hello" }, H.ws .. "/hello.txt")
  vim.fn.setqflist({}, "r", { title = "before", items = {} })
  H.answer_select("merge —")
  H.answer_select("Yes, apply")
  vim.cmd("Drover apply " .. run_id)
  local note = H.wait(function()
    return H.noted("apply refused")
  end, "the refusal")
  H.truthy(note.message:find("uncommitted", 1, true) and note.message:find("hello.txt", 1, true),
    "the message says why and names the file: " .. note.message)
  local qf = vim.fn.getqflist({ title = 1, items = 1 })
  H.truthy(qf.title:find("not applied (uncommitted)", 1, true), "quickfix title: " .. qf.title)
  H.eq(1, #qf.items, "one file in the quickfix list")
  H.eq(H.ws .. "/hello.txt", vim.fn.bufname(qf.items[1].bufnr), "the quickfix entry is the file")
  H.eq(head_before, git("rev-parse", "HEAD"), "HEAD unchanged after the refusal")
  H.eq({ "my own hello" }, vim.fn.readfile(H.ws .. "/hello.txt"), "the user's file untouched")
  H.eq(nil, H.call("run/get", { runId = run_id }).run.workspace.applied, "the server did not apply it")
  H.truthy(H.prompts[1].prompt:find("how?", 1, true), "strategy asked: " .. tostring(H.prompts[1].prompt))
  H.eq(3, #H.prompts[1].items, "three strategies offered")

  -- The user removes their file and applies again, choosing merge.
  os.remove(H.ws .. "/hello.txt")
  H.answer_select("merge —")
  H.answer_select("Yes, apply")
  vim.cmd("Drover runs")
  H.wait_buf("drover://runs", run_id)
  H.cursor_to(run_id)
  H.press("A")
  H.wait(function()
    return H.noted("applied run " .. vim.pesc(run_id))
  end, "the apply")
  H.eq("hello from the agent\nsecond line", git("show", "HEAD:hello.txt"), "HEAD has the run's file")
  H.eq("readme\nby the agent", git("show", "HEAD:README.md"), "HEAD has the run's change")
  H.truthy(git("log", "-1", "--format=%P", "HEAD"):find(head_before, 1, true), "a merge commit on top of the old HEAD")
  H.eq({ "hello from the agent", "second line" }, vim.fn.readfile(H.ws .. "/hello.txt"), "the working tree has it")
  local run = H.call("run/get", { runId = run_id }).run
  H.eq("merge", run.workspace.applied.strategy, "server recorded the merge")
  -- The plugin's own copy of the run knows it too (from the run/apply answer and run.applied).
  vim.cmd("Drover open " .. run_id)
  H.wait_buf("drover://run/" .. run_id, "applied: merge into")
end)

H.test(":Drover apply answered No sends nothing", function()
  local run_id = done_run()
  H.answer_select("squash —")
  H.answer_select("No")
  vim.cmd("Drover apply " .. run_id)
  H.wait(function()
    return H.noted("run " .. vim.pesc(run_id) .. " not applied$")
  end, "the cancelled apply")
  H.eq(nil, H.call("run/get", { runId = run_id }).run.workspace.applied, "nothing applied")
end)
