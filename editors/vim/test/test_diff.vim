vim9script
# :DroverDiff and :DroverApply on a run isolated in its own git worktree.

def Git(args: string): string
  var out = system('git ' .. args)
  if v:shell_error != 0
    throw 'git ' .. args .. ' failed: ' .. out
  endif
  return trim(out)
enddef

# A workspace with one commit and a trusted pipeline whose fake agent writes
# hello.txt and changes README.md; runs it to done and returns its id.
def DoneRun(): string
  Git('config user.email test@drover.invalid')
  Git('config user.name "Drover Test"')
  writefile(['readme'], 'README.md')
  Git('add README.md')
  Git('commit -q -m initial')
  g:Pipeline('writer', [g:FakeStep('s', [[
    {write: {path: 'hello.txt', text: "hello from the agent\nsecond line\n"}},
    {write: {path: 'README.md', text: "readme\nby the agent\n"}},
    {result: 'wrote'}]])])
  g:Call('workspace/trust', {trusted: true})
  DroverRun writer write hello
  g:WaitFor(() => !empty(g:NewestRun()), 'the run')
  var runId = g:NewestRun()
  g:WaitStatus(runId, 'done')
  return runId
enddef

def g:Test_diff_lists_files_and_opens_patches()
  var runId = DoneRun()
  var head = Git('rev-parse HEAD')
  execute 'DroverDiff ' .. runId
  var name = 'drover://diff/' .. runId
  g:WaitFor(() => g:BufHas(name, 'hello.txt'), 'the diff buffer')
  assert_equal(name, bufname('%'))
  var text = g:BufText(name)
  assert_match('2 files, +3 -0', text[0])
  assert_match('A apply', text[1])
  assert_true(index(text, 'A added     hello.txt  +2 -0') >= 0, string(text))
  assert_true(index(text, 'M modified  README.md  +1 -0') >= 0, string(text))
  cursor(match(text, 'hello.txt') + 1, 1)
  feedkeys("\<CR>", 'xt')
  assert_equal(name .. '/hello.txt', bufname('%'))
  assert_equal('diff', &filetype)
  var patch = getline(1, '$')
  assert_equal('diff --git a/hello.txt b/hello.txt', patch[0])
  assert_equal('+second line', patch[-1])
  assert_equal(head, Git('rev-parse HEAD'))
  # the run buffer: its worktree, branch and the step's commit
  drover#core#OpenRun(runId)
  var run = 'drover://run/' .. runId
  g:WaitFor(() => g:BufHas(run, '^      commit '), 'the commit in the run buffer')
  assert_true(g:BufHas(run, '^Workspace: worktree ' .. getcwd() .. '/.drover/worktrees/' .. runId .. '$'), string(g:BufText(run)))
  assert_true(g:BufHas(run, '^Branch: drover/' .. runId .. ' from HEAD'), string(g:BufText(run)))
  assert_true(g:BufHas(run, '^      commit \x\{7} (attempt 1): 2 files, +3 -0$'), string(g:BufText(run)))
  assert_true(g:BufHas(run, 'step.committed'), 'the event listed')
enddef

def g:Test_apply_refused_declined_then_merged()
  var runId = DoneRun()
  var head = Git('rev-parse HEAD')
  drover#core#OpenRun(runId)
  var run = 'drover://run/' .. runId
  g:WaitFor(() => g:BufHas(run, 'A apply'), 'the run buffer')
  # the user has an uncommitted hello.txt of their own: refused, nothing changes
  writefile(['my own hello'], 'hello.txt')
  setqflist([], 'r')
  g:AnswerConfirm([1])
  feedkeys('A', 'xt')
  g:Pick('Apply run ' .. runId .. ' how?', '^merge')
  g:WaitFor(() => g:Messages() =~ 'apply refused', 'the refusal')
  assert_match('uncommitted.*hello.txt', g:Messages())
  assert_match('files: hello.txt (in the quickfix list', g:Messages())
  assert_match('with merge?', get(g:confirm_asked, 0, ''))
  var qf = getqflist({title: 1, items: 1})
  assert_match('not applied (uncommitted)', qf.title)
  assert_equal([getcwd() .. '/hello.txt'], mapnew(qf.items, (_, i) => fnamemodify(bufname(i.bufnr), ':p')))
  assert_equal(head, Git('rev-parse HEAD'))
  assert_equal(['my own hello'], readfile('hello.txt'))
  assert_false(has_key(g:RunOf(runId).workspace, 'applied'))
  # declined at the confirmation: nothing sent
  delete('hello.txt')
  g:AnswerConfirm([2])
  execute 'DroverApply ' .. runId .. ' squash'
  assert_equal(1, len(filter(copy(drover#rpc#Sent()), (_, m) => m.method == 'run/apply')))
  # confirmed merge: HEAD has the run's files
  g:AnswerConfirm([1])
  execute 'DroverApply ' .. runId .. ' merge'
  g:WaitFor(() => g:Messages() =~ 'applied run ' .. runId .. ' (merge into', 'the apply')
  assert_equal("hello from the agent\nsecond line", Git('show HEAD:hello.txt'))
  assert_equal("readme\nby the agent", Git('show HEAD:README.md'))
  assert_match(head, Git('log -1 --format=%P HEAD'))
  assert_equal('merge', g:RunOf(runId).workspace.applied.strategy)
  g:WaitFor(() => g:BufHas(run, '^Applied: merge into '), 'the run buffer to show the apply')
enddef
