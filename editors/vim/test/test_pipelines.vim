vim9script
# Richer pipelines (issue 19): consensus answers and the winner, review rounds
# with findings (and the review next to the approval), a fan-out's child runs
# nested under their parent and opened from it. The `rich` fixture
# (editors/fixtures) drives all three with fake agents.

const FIXTURES = expand('<sfile>:p:h:h:h') .. '/fixtures'

def Git(args: string)
  var out = system('git ' .. args)
  if v:shell_error != 0
    throw 'git ' .. args .. ' failed: ' .. out
  endif
enddef

# The fixture pipelines and agents in a trusted workspace with a first commit
# (so runs get worktrees and children merge); starts `rich` and returns its id.
def StartRich(pipeline: string = 'rich'): string
  mkdir('.drover/pipelines', 'p')
  for file in glob(FIXTURES .. '/pipelines/*.json', false, true)
    writefile(readfile(file), '.drover/pipelines/' .. fnamemodify(file, ':t'))
  endfor
  writefile(readfile(FIXTURES .. '/config.json'), '.drover/config.json')
  writefile(['readme'], 'README.md')
  Git('config user.email test@drover.invalid')
  Git('config user.name "Drover Test"')
  Git('add README.md')
  Git('commit -q -m initial')
  g:AnswerConfirm([1])
  DroverTrust
  g:WaitFor(() => g:Messages() =~ 'workspace trusted', 'trust to be recorded')
  execute 'DroverRun ' .. pipeline .. ' parse dates'
  g:WaitFor(() => !empty(g:NewestRun()), 'the run to start')
  return g:NewestRun()
enddef

def WaitText(name: string, text: string)
  try
    g:WaitFor(() => index(mapnew(g:BufText(name), (_, l) => stridx(l, text) >= 0), true) >= 0,
      printf('%s to show "%s"', name, text))
  catch
    throw v:exception .. ' (it shows ' .. string(g:BufText(name)) .. ')'
  endtry
enddef

def LineOf(name: string, text: string): number
  return index(mapnew(g:BufText(name), (_, l) => stridx(l, text) >= 0), true) + 1
enddef

def g:Test_run_view_consensus_and_review_rounds()
  var runId = StartRich()
  var view = 'drover://run/' .. runId
  WaitText(view, 'approval pending')
  WaitText(view, 'approval review by review')
  var text = join(g:BufText(view), "\n")
  for needle in [
      'candidate alpha (attempt 1): Use PostgreSQL',
      'candidate beta (attempt 2): SQLite',
      'candidate gamma (attempt 3): use   postgresql',
      'candidate delta (attempt 4): no answer (agent): ',
      '* alpha won (vote) — 2 of 3 answers agree (alpha, gamma): Use PostgreSQL',
      "review of impl, round 1: score 0.40 (needs 0.80) below the threshold\n        - the parser has no tests\n        - dates are off by one\n",
      'review of impl, round 2: score 0.90 (needs 0.80) passed',
      'approval review by review, round 2: score 0.90 (needs 0.80) passed']
    assert_true(stridx(text, needle) >= 0, 'run view shows ' .. needle .. ":\n" .. text)
  endfor
  assert_match('candidate delta (attempt 4): no answer (agent): [^\n]*delta is offline', text)
  assert_true(stridx(text, 'review of impl, round 1') < stridx(text, 'review of impl, round 2'), 'rounds in order')

  # The inbox shows the approval with its review; `a` approves it and the run fans out.
  DroverInbox
  WaitText('drover://inbox', '[review round 2: score 0.90 (needs 0.80) passed]')
  cursor(LineOf('drover://inbox', 'approval'), 1)
  feedkeys('a', 'xt')
  g:WaitFor(() => len(get(g:RunOf(runId).steps[3], 'children', [])) == 2, 'the fan-out to start two children')
enddef

def g:Test_fanout_children_nested_and_opened()
  var runId = StartRich()
  var view = 'drover://run/' .. runId
  WaitText(view, 'approval pending')
  var approval = g:RunOf(runId).steps[1].approval.id
  g:Call('step/approve', {runId: runId, approvalId: approval})
  # Each child asks before it writes: both wait (blocked) while the parent waits on them.
  WaitText(view, '2 child runs: 2 blocked')
  var parent = g:RunOf(runId)
  var children = parent.steps[3].children
  assert_equal('blocked', parent.status)

  # The inbox lists the parent's wait on its children as the server does (kind "children"): `a`
  # refuses it; <CR> on it offers the children and opens the one picked.
  var listed = filter(g:Call('inbox/list', {}).items, (_, item) => item.kind == 'children')
  assert_equal(1, len(listed))
  assert_equal(children, mapnew(listed[0].children, (_, c) => c.runId))
  DroverInbox
  WaitText('drover://inbox', 'waiting on 2 child runs: 2 blocked')
  cursor(LineOf('drover://inbox', 'waiting on 2 child runs'), 1)
  assert_match(runId .. '\s\+split\s\+children\s\+waiting on 2 child runs: 2 blocked', getline('.'))
  feedkeys('a', 'xt')
  assert_match('put the cursor on an approval (this is a children item)', g:Messages())
  feedkeys("\<CR>", 'xt')
  g:Pick('Open which child run', children[0])
  g:WaitFor(() => bufname('%') == 'drover://run/' .. children[0], 'the picked child''s view')

  DroverRuns
  WaitText('drover://runs', '[2 child runs: 2 blocked]')
  var at = LineOf('drover://runs', runId)
  var lines = g:BufText('drover://runs')
  assert_match('^  ↳ ' .. children[0] .. '\s\+child\s\+blocked', lines[at])
  assert_match('^  ↳ ' .. children[1] .. '\s\+child\s\+blocked', lines[at + 1])

  # <CR> on a child in the runs buffer opens it; it names its parent; its question is answered from the inbox.
  cursor(at + 2, 1)
  feedkeys("\<CR>", 'xt')
  var second = 'drover://run/' .. children[1]
  g:WaitFor(() => bufname('%') == second, 'the second child''s view')
  WaitText(second, 'Parent: ' .. runId .. ' (step split)')
  WaitText(second, 'asks: Write beta.txt? [yes/no]')
  g:Call('decision/resolve', {runId: children[1], decisionId: 'd-work-1', choice: 'yes'})
  WaitText(second, 'DONE')
  # <CR> on the parent line goes back; the parent shows one child done.
  cursor(LineOf(second, 'Parent: '), 1)
  feedkeys("\<CR>", 'xt')
  g:WaitFor(() => bufname('%') == view, 'the parent''s view')
  WaitText(view, '2 child runs: 1 done, 1 blocked')
  # <CR> on the first child's line in the parent's view opens that child.
  cursor(LineOf(view, '↳ blocked   ' .. children[0]), 1)
  feedkeys("\<CR>", 'xt')
  g:WaitFor(() => bufname('%') == 'drover://run/' .. children[0], 'the first child''s view')
  g:Call('decision/resolve', {runId: children[0], decisionId: 'd-work-1', choice: 'yes'})

  # Both merged in order; each child line names the merge commit the server recorded.
  g:WaitStatus(runId, 'done')
  var merges = filter(g:Call('run/events', {runId: runId, afterSeq: 0}).events, (_, e) => e.type == 'child.merged')
  assert_equal(children, mapnew(merges, (_, e) => e.data.childRunId))
  for m in merges
    WaitText(view, printf('↳ done      %s  %s — merged %s', m.data.childRunId,
      m.data.childRunId == children[0] ? 'alpha.txt' : 'beta.txt', m.data.commit[: 6]))
  endfor
  WaitText(view, '2 child runs: 2 done')
  WaitText('drover://runs', '[2 child runs: 2 done]')
enddef

def g:Test_run_view_malformed_verdicts()
  var runId = StartRich('malformed')
  var view = 'drover://run/' .. runId
  WaitText(view, 'Failure (agent)')
  var text = join(g:BufText(view), "\n")
  assert_true(stridx(text, "      review attempt 1: not a verdict (the reply is not JSON): Looks fine to me.\n" ..
    "      review attempt 2: not a verdict (the reply is not JSON): Looks fine to me.\n") >= 0, text)
enddef

def g:Test_inbox_children_item_and_unknown_kind()
  DroverInbox
  WaitText('drover://inbox', 'Nothing waits for you.')
  # Items as a server with these kinds sends them (the "children" kind is new in issue 19).
  var childA = 'r-20260101-000000-aaaaa'
  var childB = 'r-20260101-000000-bbbbb'
  drover#inbox#Render([
    {kind: 'children', runId: 'r-20260101-000000-ppppp', stepId: 'split', id: 'c-split-1', since: '2026-01-01T00:00:00Z',
      children: [{runId: childA, status: 'done', task: 'alpha.txt'}, {runId: childB, status: 'running'}]},
    {kind: 'quorum', runId: 'r-20260101-000000-qqqqq', stepId: 'vote', id: 'q-vote-1', since: '2026-01-01T00:00:00Z'}])
  var at = LineOf('drover://inbox', 'r-20260101-000000-ppppp')
  assert_match('split\s\+children\s\+waiting on 2 child runs: 1 done, 1 running', getline(at))
  assert_match('vote\s\+quorum\s\+q-vote-1', getline(LineOf('drover://inbox', 'quorum')))
  # The approval keys refuse both; <CR> on the unknown kind says it cannot be answered.
  cursor(at, 1)
  feedkeys('acxe', 'xt')
  assert_equal(4, count(drover#ui#History(), 'Drover: put the cursor on an approval (this is a children item)'))
  cursor(LineOf('drover://inbox', 'quorum'), 1)
  feedkeys("\<CR>", 'xt')
  assert_match('waits on a quorum item, which this plugin cannot answer', g:Messages())
  assert_equal([], popup_list())
  # <CR> on the children item asks which child to open, and opens it.
  cursor(at, 1)
  feedkeys("\<CR>", 'xt')
  g:Pick('Open which child run', childB)
  g:WaitFor(() => bufname('%') == 'drover://run/' .. childB, 'the child''s view to open')
enddef
