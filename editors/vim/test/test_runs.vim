vim9script
# The runs buffer and a run buffer's actions (cancel, retry), live.

const RUNS = 'drover://runs'

def g:Test_runs_buffer_open_cancel_retry()
  DroverRun demo First task
  g:WaitFor(() => !empty(g:NewestRun()), 'the run')
  var runId = g:NewestRun()
  g:WaitStatus(runId, 'blocked')
  DroverRuns
  assert_equal(RUNS, bufname('%'))
  var row = '^' .. runId .. '\s\+demo\s\+blocked\s\+plan\s\+\d\+[smhd]$'
  g:WaitFor(() => g:BufHas(RUNS, row), 'the run listed as blocked at plan')
  # the keys offered come from capabilities.methods
  assert_match('c cancel · r retry', getline(1))
  cursor(match(getline(1, '$'), '^' .. runId) + 1, 1)
  feedkeys("\<CR>", 'xt')
  assert_equal('drover://run/' .. runId, bufname('%'))
  g:WaitFor(() => g:BufHas(bufname('%'), 'decision.requested'), 'the run buffer')
  # cancel from the run buffer (asks first)
  g:AnswerConfirm([1])
  feedkeys('c', 'xt')
  assert_match('Cancel run ' .. runId, get(g:confirm_asked, 0, ''))
  g:WaitStatus(runId, 'cancelled')
  g:WaitFor(() => g:BufHas('drover://run/' .. runId, 'run.cancelled'), 'the run buffer to show the cancel')
  # the header follows the run's own fetch (run/get), which comes after the event's line
  g:WaitFor(() => g:BufText('drover://run/' .. runId)[0] =~ 'CANCELLED', 'the run buffer header to say CANCELLED')
  g:WaitFor(() => g:BufHas(RUNS, '^' .. runId .. '\s\+demo\s\+cancelled'), 'the runs buffer to follow')
  # retry: the run goes back to its decision
  feedkeys('r', 'xt')
  g:WaitFor(() => g:BufHas('drover://run/' .. runId, 'run.retried'), 'the retry in the run buffer')
  g:WaitStatus(runId, 'blocked')
  # the events shown are exactly the run's, in order, none twice
  var lastSeq = g:RunOf(runId).lastSeq
  g:WaitFor(() => g:BufHas('drover://run/' .. runId, '^\s*' .. lastSeq .. '  '), 'the last event')
  var seqs = mapnew(filter(g:BufText('drover://run/' .. runId), (_, l) => l =~ '^\s*\d\+  \S'), (_, l) => str2nr(l))
  assert_equal(range(1, lastSeq), seqs)
enddef

# Declining the cancel question leaves the run alone.
def g:Test_cancel_declined()
  DroverRun demo Keep me
  g:WaitFor(() => !empty(g:NewestRun()), 'the run')
  var runId = g:NewestRun()
  g:WaitStatus(runId, 'blocked')
  g:AnswerConfirm([2])
  feedkeys('c', 'xt')
  assert_equal(1, len(g:confirm_asked))
  assert_equal([], filter(copy(drover#rpc#Sent()), (_, m) => m.method == 'run/cancel'))
  assert_equal('blocked', g:RunOf(runId).status)
enddef
