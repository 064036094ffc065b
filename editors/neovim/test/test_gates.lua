-- The demo pipeline end to end, driven as a user would: :Drover run, the inbox, the gate actions.
local H = _G.H

H.test("demo: :Drover run, decision from the inbox, edited approval saved with :w, run done in :Drover runs", function()
  local drover = H.fresh()
  H.eq("", drover.status(), "statusline before anything ran")
  H.answer_select("demo")
  H.answer_input("Add a --verbose flag")
  vim.cmd("Drover run")
  -- The pipeline prompt shows descriptions; the task prompt names the pipeline.
  local buf = H.wait(function()
    local name = vim.api.nvim_buf_get_name(0)
    return name:match("^drover://run/") and vim.api.nvim_get_current_buf()
  end, "the run buffer to open")
  local pick = H.prompts[1]
  H.truthy(vim.tbl_filter(function(item)
    return item:find("demo — Shows a decision", 1, true)
  end, pick.items)[1], "pipeline prompt shows the demo's description: " .. vim.inspect(pick.items))
  H.eq("input", H.prompts[2].kind, "second prompt")
  H.truthy(H.prompts[2].prompt:find("demo", 1, true), "task prompt names the pipeline")
  local run_id = vim.api.nvim_buf_get_name(buf):match("^drover://run/(.*)$")

  -- The run buffer updates live up to the decision; the statusline counts it.
  H.wait_buf("drover://run/" .. run_id, "? decision d-plan-1: How thorough should the plan be? [quick/thorough]")
  H.truthy(H.text(buf):find("? blocked", 1, true), "run buffer header says blocked")
  H.wait(function()
    return drover.status() == "drover ▶1 ?1"
  end, "statusline with one live run and one gate (got '" .. drover.status() .. "')")
  H.truthy(H.noted("step plan asks: How thorough should the plan be%?"), "a notification announced the decision")

  -- The inbox lists the decision; <CR> on it asks the choice.
  vim.cmd("Drover inbox")
  H.wait_buf("drover://inbox", "decision d-plan-1")
  H.cursor_to("decision d-plan-1")
  H.answer_select("thorough")
  H.press("<CR>")
  H.eq({ "quick", "thorough" }, H.prompts[#H.prompts].items, "decision options offered")

  -- The inbox refreshes to the approval; e opens the proposal in a scratch buffer.
  local inbox = H.wait_buf("drover://inbox", "approval a-impl-1")
  vim.api.nvim_set_current_buf(inbox)
  H.cursor_to("approval a-impl-1")
  H.press("e")
  local edit = H.wait(function()
    return vim.api.nvim_buf_get_name(0):match("drover://approval/") and vim.api.nvim_get_current_buf()
  end, "the proposal buffer")
  H.truthy(H.text(edit):find("Implemented (fake agent", 1, true), "proposal buffer holds the proposal")
  vim.api.nvim_buf_set_lines(edit, 0, -1, false, { "Edited by the reviewer.", "Second line." })
  vim.cmd("write")
  H.wait(function()
    return vim.b[edit] and vim.b[edit].drover_approved
  end, "the approval to be accepted")
  H.eq(false, vim.api.nvim_buf_get_option(edit, "modified"), "buffer saved")

  -- :Drover runs shows it done; the server agrees, with the edited proposal as impl's output.
  vim.cmd("Drover runs")
  H.wait(function()
    local runs = H.buf_by_name("drover://runs")
    for _, line in ipairs(H.lines(runs)) do
      if line:find(run_id, 1, true) and line:find("✓ done", 1, true) then
        return true
      end
    end
  end, "runs buffer to show the run done")
  local run = H.call("run/get", { runId = run_id }).run
  H.eq("done", run.status, "run status on the server")
  H.eq("thorough", H.step(run, "plan").decision.chosen, "the choice sent")
  H.eq("Edited by the reviewer.\nSecond line.", H.step(run, "impl").output, "impl output = edited proposal")
  H.wait_buf("drover://run/" .. run_id, "✓ done")
  H.eq("", drover.status(), "statusline once nothing is live")
end)

H.test("request changes from the inbox, then approve the new proposal", function()
  local drover = H.fresh()
  local run_id = H.start_demo()
  H.wait_run(run_id, function(run)
    return run.status == "blocked"
  end, "the decision")
  drover.resolve(run_id, "d-plan-1", "quick")
  vim.cmd("Drover inbox")
  H.wait_buf("drover://inbox", "approval a-impl-1")
  H.cursor_to("approval a-impl-1")
  H.answer_input("Please add tests too")
  H.press("c")
  -- A new approval (new id) comes back from the re-run.
  H.wait_buf("drover://inbox", "approval a-impl-2")
  local run = H.call("run/get", { runId = run_id }).run
  H.eq(2, H.step(run, "impl").attempts, "impl re-ran")
  H.truthy(H.step(run, "impl").approval.proposal:find("Please add tests too", 1, true),
    "the re-run's proposal saw the feedback")
  H.cursor_to("approval a-impl-2")
  H.answer_select("Approve")
  H.press("<CR>")
  run = H.wait_run(run_id, function(r)
    return r.status == "done"
  end, "the run to finish")
  H.eq("approved", H.step(run, "impl").approval.status, "approval status")
  H.wait_buf("drover://inbox", "Nothing waits for you.")
end)

H.test("reject with a reason: the run fails and the run buffer shows the failure and its hint", function()
  local drover = H.fresh()
  local run_id = H.start_demo()
  H.wait_run(run_id, function(run)
    return run.status == "blocked"
  end, "the decision")
  drover.open_run(run_id)
  drover.resolve(run_id, "d-plan-1", "quick")
  H.wait_buf("drover://run/" .. run_id, "? approval a-impl-1: pending")
  -- `a` in the run buffer acts on the open gate.
  vim.api.nvim_set_current_buf(H.buf_by_name("drover://run/" .. run_id))
  H.answer_select("Reject")
  H.answer_input("Not what we need")
  H.press("a")
  local run = H.wait_run(run_id, function(r)
    return r.status == "failed"
  end, "the run to fail")
  H.eq("rejected", run.failure.kind, "failure kind")
  H.eq("Not what we need", H.step(run, "impl").approval.feedback, "reason sent")
  local buf = H.wait_buf("drover://run/" .. run_id, "Failure (rejected)")
  H.truthy(H.text(buf):find("\nhint: ", 1, true), "hint shown: " .. H.text(buf))
  H.truthy(H.text(buf):find("✗ failed", 1, true), "header says failed")
end)

H.test("a decision from the run buffer, then plain approve from the inbox", function()
  H.fresh()
  local run_id = H.start_demo()
  H.wait_run(run_id, function(run)
    return run.status == "blocked"
  end, "the decision")
  vim.cmd("Drover open " .. run_id)
  H.wait_buf("drover://run/" .. run_id, "? decision d-plan-1")
  H.answer_select("quick")
  H.press("a")
  vim.cmd("Drover inbox")
  H.wait_buf("drover://inbox", "approval a-impl-1")
  H.cursor_to("approval a-impl-1")
  H.press("a")
  local run = H.wait_run(run_id, function(r)
    return r.status == "done"
  end, "the run to finish")
  H.eq("quick", H.step(run, "plan").decision.chosen, "choice")
  H.wait_buf("drover://run/" .. run_id, "✓ done")
end)
