vim9script
# The inbox: every kind of gate answered as a user would, each checked by
# reading the run back from the server.

const INBOX = 'drover://inbox'

def StartDemo(): string
  DroverRun demo Add a --verbose flag
  g:WaitFor(() => !empty(g:NewestRun()), 'the run to start')
  return g:NewestRun()
enddef

# Opens the inbox and puts the cursor on the gate of `kind` for `step`.
def OnGate(step: string, kind: string)
  DroverInbox
  g:WaitFor(() => g:BufHas(INBOX, '\s' .. step .. '\s\+' .. kind .. '\s'), printf('the %s gate of %s in the inbox', kind, step))
  assert_equal(INBOX, bufname('%'))
  cursor(match(getline(1, '$'), '\s' .. step .. '\s\+' .. kind .. '\s') + 1, 1)
enddef

def ApprovalPipeline()
  # attempt 1 proposes v1; a re-run proposes text holding its prompt (which
  # holds the reviewer's feedback), then a report step uses the output.
  g:Pipeline('review', [
    g:FakeStep('write', [[{result: 'proposal v1'}], [{result: 'proposal v2 from: {{prompt}}'}]], {requiresApproval: true}),
    g:FakeStep('after', [[{result: 'done'}]]),
  ])
enddef

def StartTrusted(pipeline: string): string
  g:AnswerConfirm([1])
  DroverTrust
  assert_match('Trust the workspace ' .. getcwd(), get(g:confirm_asked, 0, ''))
  g:WaitFor(() => g:Messages() =~ 'workspace trusted', 'trust to be recorded')
  execute 'DroverRun ' .. pipeline .. ' Write it'
  g:WaitFor(() => !empty(g:NewestRun()), 'the run to start')
  return g:NewestRun()
enddef

# Decision from the popup menu, then the approval with `a`: the demo completes.
def g:Test_decision_then_approve()
  var runId = StartDemo()
  OnGate('plan', 'decision')
  assert_match('How thorough should the plan be? \[quick/thorough\]', getline('.'))
  feedkeys("\<CR>", 'xt')
  g:Pick('How thorough', '^thorough$')
  OnGate('impl', 'approval')
  var run = g:RunOf(runId)
  assert_equal('thorough', run.steps[0].decision.chosen)
  feedkeys('a', 'xt')
  g:WaitStatus(runId, 'done')
  run = g:RunOf(runId)
  assert_equal('approved', run.steps[1].approval.status)
  assert_match('answered "thorough"', g:Messages())
  g:WaitFor(() => g:BufHas(INBOX, 'Nothing waits for you'), 'the inbox to empty')
  g:WaitFor(() => drover#status() == 'Drover: idle', 'the status to go idle')
enddef

# Edit the proposal in a scratch buffer and :w — the edited text is approved
# and becomes the step's output.
def g:Test_edit_proposal_and_write()
  var runId = StartDemo()
  OnGate('plan', 'decision')
  feedkeys("\<CR>", 'xt')
  g:Pick('How thorough', '^quick$')
  OnGate('impl', 'approval')
  feedkeys('e', 'xt')
  assert_match('^drover://proposal/' .. runId .. '/a-impl-', bufname('%'))
  assert_match('^Implemented (fake agent', getline(1))
  setline(1, ['My edited proposal', 'second line'])
  deletebufline('%', 3, '$')
  write
  g:WaitFor(() => g:RunOf(runId).steps[1].state == 'done', 'impl to be done')
  var impl = g:RunOf(runId).steps[1]
  assert_equal("My edited proposal\nsecond line", impl.output)
  assert_false(&modified)
  assert_match('approved with your edits', g:Messages())
enddef

# Request changes (feedback typed at the prompt), a new proposal comes back
# holding the feedback, then approve it from the <CR> menu.
def g:Test_request_changes_loop()
  ApprovalPipeline()
  var runId = StartTrusted('review')
  OnGate('write', 'approval')
  assert_match('proposal v1', getline('.'))
  feedkeys("cUse a table please\<CR>", 'xt')
  g:WaitFor(() => g:RunOf(runId).steps[0].attempts == 2 && g:RunOf(runId).status == 'blocked', 'the second proposal')
  var step = g:RunOf(runId).steps[0]
  assert_equal('pending', step.approval.status)
  assert_match('Use a table please', step.approval.proposal)
  OnGate('write', 'approval')
  assert_match('proposal v2', getline('.'))
  feedkeys("\<CR>", 'xt')
  g:Pick('write: approval', '^Approve$')
  g:WaitStatus(runId, 'done')
  assert_match('^proposal v2', g:RunOf(runId).steps[0].output)
enddef

# Blank feedback sends nothing.
def g:Test_request_changes_blank_sends_nothing()
  ApprovalPipeline()
  var runId = StartTrusted('review')
  OnGate('write', 'approval')
  feedkeys("c\<CR>", 'xt')
  assert_match('no feedback given', g:Messages())
  assert_equal([], filter(copy(drover#rpc#Sent()), (_, m) => m.method == 'step/requestChanges'))
  assert_equal('blocked', g:RunOf(runId).status)
enddef

# Reject with a reason: the run fails with a `rejected` failure.
def g:Test_reject_with_reason()
  ApprovalPipeline()
  var runId = StartTrusted('review')
  OnGate('write', 'approval')
  g:AnswerConfirm([1])
  feedkeys("xNot what I meant\<CR>", 'xt')
  assert_match('Reject the proposal of write', get(g:confirm_asked, 0, ''))
  g:WaitStatus(runId, 'failed')
  var run = g:RunOf(runId)
  assert_equal('rejected', run.failure.kind)
  assert_equal('rejected', run.steps[0].approval.status)
  assert_equal('Not what I meant', run.steps[0].approval.feedback)
enddef
