-- Richer pipelines in the buffers (issue 19): consensus answers and the winner, review rounds with
-- their findings (and the review next to the approval), child runs of a fan-out nested under their
-- parent and opened from it. The `rich` fixture (editors/fixtures) drives all three with fake agents.
local H = _G.H

local function wait_line(name, needle)
  return H.wait(function()
    for i, line in ipairs(H.lines(H.buf_by_name(name))) do
      if line:find(needle, 1, true) then
        return i
      end
    end
  end, string.format("%s to show %q (it shows: %s)", name, needle, vim.inspect(H.lines(H.buf_by_name(name)))))
end

local function line_with(name, needle)
  for _, line in ipairs(H.lines(H.buf_by_name(name))) do
    if line:find(needle, 1, true) then
      return line
    end
  end
end

local function start_rich()
  H.fresh()
  H.fixture_workspace()
  return H.start_run("rich", "parse dates")
end

H.test("run view: consensus candidates and winner, review rounds with findings, the review next to the approval", function()
  local run_id = start_rich()
  H.drover.open_run(run_id)
  local name = "drover://run/" .. run_id
  wait_line(name, "? approval a-impl-")
  local text = H.text(H.buf_by_name(name))
  H.truthy(text:find("candidate delta %(attempt 4%): no answer %(agent%): [^\n]*delta is offline"), "the failed role says why:\n" .. text)
  for _, needle in ipairs({
    "candidate alpha (attempt 1): Use PostgreSQL",
    "candidate beta (attempt 2): SQLite",
    "candidate gamma (attempt 3): use   postgresql",
    "candidate delta (attempt 4): no answer (agent): ",
    "★ alpha won (vote) — 2 of 3 answers agree (alpha, gamma): Use PostgreSQL",
    "review of impl, round 1: score 0.40 (needs 0.80) ✗ below the threshold",
    "  - the parser has no tests\n",
    "  - dates are off by one\n",
    "review of impl, round 2: score 0.90 (needs 0.80) ✓ passed",
    "review by review, round 2: score 0.90 (needs 0.80) ✓ passed",
  }) do
    H.truthy(text:find(needle, 1, true), "run view shows " .. vim.inspect(needle) .. ":\n" .. text)
  end
  -- The rounds are in order, and the review sits under the approval of the step it graded.
  H.truthy(text:find("review of impl, round 1", 1, true) < text:find("review of impl, round 2", 1, true), "rounds in order")
  H.truthy(text:find("approval a%-impl%-%d+: pending[^\n]*\n%s+review by review, round 2"), "review under the approval")

  -- The inbox shows the review with the approval; approving it goes on to the fan-out.
  vim.cmd("Drover inbox")
  wait_line("drover://inbox", "[review round 2: 0.90, needs 0.80, passed]")
  H.cursor_to("approval a-impl-")
  H.press("a")
  H.wait_run(run_id, function(run)
    return H.step(run, "split").children and #H.step(run, "split").children == 2
  end, "the fan-out to start two children")
end)

H.test("fan-out: children nested under the parent in :Drover runs, opened from the parent and back; merges shown", function()
  local drover = H.fresh()
  local run_id = start_rich()
  drover.open_run(run_id)
  local name = "drover://run/" .. run_id
  wait_line(name, "? approval a-impl-")
  drover.approve(run_id, H.step(H.call("run/get", { runId = run_id }).run, "impl").approval.id)
  -- Each child asks before it writes, so both wait (blocked) while the parent waits on them.
  wait_line(name, "2 child runs: 2 blocked")
  local children = H.step(H.call("run/get", { runId = run_id }).run, "split").children
  H.eq(2, #children, "children on the server")
  H.eq("blocked", H.call("run/get", { runId = run_id }).run.status, "parent blocked on its children")

  -- The inbox lists the parent's wait on its children as the server does (kind "children"): approval
  -- keys refuse it; <CR> on it offers the children and opens the one picked.
  local listed
  for _, item in ipairs(H.call("inbox/list", {}).items) do
    if item.kind == "children" then
      listed = item
    end
  end
  H.truthy(listed, "the server lists the wait on children")
  H.eq(children, vim.tbl_map(function(c)
    return c.runId
  end, listed.children), "the children of the server's item")
  vim.cmd("Drover inbox")
  wait_line("drover://inbox", "⋯ " .. run_id .. "  split      waiting on 2 child runs: 2 blocked")
  H.cursor_to("waiting on 2 child runs")
  H.press("a")
  H.truthy(H.noted("this item is a children, not approval"), "approve refused")
  H.answer_select(children[1])
  H.press("<CR>")
  H.eq({ children[1] .. "  blocked  alpha.txt", children[2] .. "  blocked  beta.txt" }, H.prompts[#H.prompts].items,
    "children offered")
  H.wait(function()
    return vim.api.nvim_buf_get_name(0) == "drover://run/" .. children[1]
  end, "the picked child's view")

  vim.cmd("Drover runs")
  wait_line("drover://runs", "[2 child runs: 2 blocked]")
  local lines = H.lines(H.buf_by_name("drover://runs"))
  local parent_at
  for i, line in ipairs(lines) do
    if line:find(run_id, 1, true) then
      parent_at = i
    end
  end
  H.truthy(parent_at, "parent listed")
  for offset, child_id in ipairs(children) do
    local line = lines[parent_at + offset]
    H.truthy(line and line:find("^  ↳ ") and line:find(child_id, 1, true), "child " .. child_id .. " nested under the parent: "
      .. vim.inspect(lines))
  end
  H.truthy(lines[parent_at + 1]:find("alpha.txt", 1, true) and lines[parent_at + 2]:find("beta.txt", 1, true),
    "children show their tasks in the fan-out's order")

  -- <CR> on a child in :Drover runs opens it; its view names the parent; `a` answers its question.
  H.cursor_to(children[2])
  H.press("<CR>")
  local child_name = "drover://run/" .. children[2]
  wait_line(child_name, "parent: " .. run_id .. " (step split)")
  wait_line(child_name, "? decision d-work-1: Write beta.txt?")
  H.eq(child_name, vim.api.nvim_buf_get_name(0), "the child's view is current")
  H.answer_select("yes")
  H.press("a")
  wait_line(child_name, "✓ done")
  -- <CR> on the parent line goes back to the parent, which shows the child done.
  H.cursor_to("parent: ")
  H.press("<CR>")
  H.eq(name, vim.api.nvim_buf_get_name(0), "back in the parent's view")
  wait_line(name, "2 child runs: 1 done, 1 blocked")

  -- <CR> on the other child's line in the parent's view opens that child.
  H.cursor_to(children[1])
  H.press("<CR>")
  wait_line("drover://run/" .. children[1], "? decision d-work-1: Write alpha.txt?")
  H.eq("drover://run/" .. children[1], vim.api.nvim_buf_get_name(0), "the first child's view is current")
  H.answer_select("yes")
  H.press("a")

  -- The parent merges both, in order; each child line names the merge commit the server recorded.
  H.wait_run(run_id, function(run)
    return run.status == "done"
  end, "the parent to finish")
  local merges = {}
  for _, event in ipairs(H.call("run/events", { runId = run_id, afterSeq = 0, limit = 1000 }).events) do
    if event.type == "child.merged" then
      table.insert(merges, event.data)
    end
  end
  H.eq(children, vim.tbl_map(function(m)
    return m.childRunId
  end, merges), "merged in order")
  for _, merge in ipairs(merges) do
    wait_line(name, merge.childRunId .. "  " .. (merge.childRunId == children[1] and "alpha.txt" or "beta.txt")
      .. " — merged " .. merge.commit:sub(1, 7))
  end
  wait_line(name, "2 child runs: 2 done")
  wait_line("drover://runs", "[2 child runs: 2 done]")
end)

H.test("run view: a reviewer's replies that are not a verdict, then the failure", function()
  H.fresh()
  H.fixture_workspace()
  local run_id = H.start_run("malformed", "parse dates")
  H.drover.open_run(run_id)
  local name = "drover://run/" .. run_id
  wait_line(name, "Failure (agent) in review")
  local text = H.text(H.buf_by_name(name))
  H.truthy(text:find("      review attempt 1: not a verdict (the reply is not JSON): Looks fine to me.\n"
    .. "      review attempt 2: not a verdict (the reply is not JSON): Looks fine to me.\n", 1, true), text)
end)

H.test("inbox: items of a children kind and of an unknown kind as listed by a server, shown harmlessly", function()
  local drover = H.fresh()
  local inbox = require("drover.ui.inbox")
  vim.cmd("Drover inbox")
  local buf = H.wait_buf("drover://inbox", "Nothing waits for you.")
  -- Items as a server with these kinds sends them (the "children" kind is new in issue 19).
  local child_a, child_b = "r-20260101-000000-aaaaa", "r-20260101-000000-bbbbb"
  inbox.items = {
    { kind = "children", runId = "r-20260101-000000-ppppp", stepId = "split", id = "c-split-1",
      since = "2026-01-01T00:00:00Z",
      children = { { runId = child_a, status = "done", task = "alpha.txt" }, { runId = child_b, status = "running" } } },
    { kind = "quorum", runId = "r-20260101-000000-qqqqq", stepId = "vote", id = "q-vote-1", since = "2026-01-01T00:00:00Z" },
  }
  inbox.render(buf)
  H.truthy(H.text(buf):find("⋯ r-20260101-000000-ppppp  split      waiting on 2 child runs: 1 done, 1 running", 1, true),
    "children item: " .. H.text(buf))
  H.truthy(H.text(buf):find("· r-20260101-000000-qqqqq  vote       quorum q-vote-1", 1, true), "unknown kind: " .. H.text(buf))
  -- Approval keys refuse a children item; <CR> on an unknown kind says it cannot be answered.
  H.cursor_to("waiting on 2 child runs")
  for _, key in ipairs({ "a", "e", "c", "x" }) do
    H.press(key)
  end
  H.eq(4, #H.notes_matching("this item is a children, not approval"), "each approval key refused")
  H.cursor_to("quorum q-vote-1")
  H.press("<CR>")
  H.truthy(H.noted("waits on a quorum item, which drover.nvim cannot answer"), "unknown kind explained")
  H.eq(0, #H.prompts, "no prompt offered for either item")
  -- <CR> on the children item asks which child to open and opens it.
  H.cursor_to("waiting on 2 child runs")
  H.answer_select(child_b)
  H.press("<CR>")
  H.eq({ child_a .. "  done  alpha.txt", child_b .. "  running  " }, H.prompts[#H.prompts].items, "children offered")
  H.wait(function()
    return vim.api.nvim_buf_get_name(0) == "drover://run/" .. child_b
  end, "the child's run buffer to open")
  drover.stop()
end)
