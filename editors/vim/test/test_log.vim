vim9script
# Log buffers: backfilled from step/log, joined with live run/log lines by
# byte offset, no line doubled or lost.

def LogLines(runId: string, step: string): list<string>
  return g:BufText(printf('drover://log/%s/%s', runId, step))
enddef

def Trust()
  g:AnswerConfirm([1])
  DroverTrust
  g:WaitFor(() => g:Messages() =~ 'workspace trusted', 'trust')
enddef

# 5,000 lines in bursts (the same texts repeat across bursts, so only the
# offsets can tell them apart); the log opens as the step starts, while lines
# are being written, and must end with every line exactly once, in order.
def g:Test_log_5000_lines_joined_while_running()
  var script: list<any> = []
  for _ in range(5)
    extend(script, [{spam: 1000}, {sleep: 0.15}])
  endfor
  add(script, {result: 'ok'})
  g:Pipeline('noisy', [g:FakeStep('s', [script])])
  Trust()
  DroverRun noisy make noise
  g:WaitFor(() => !empty(g:NewestRun()), 'the run')
  var runId = g:NewestRun()
  # open it once the file holds output, while more is still to come
  g:WaitFor(() => g:Call('step/log', {runId: runId, stepId: 's'}).nextOffset > 0, 'the first lines in the file')
  execute 'DroverLog ' .. runId .. ' s'
  assert_equal('drover://log/' .. runId .. '/s', bufname('%'))
  var expected = ['── attempt 1 ──']
  for _ in range(5)
    extend(expected, mapnew(range(1, 1000), (_, i) => printf('spam %d/1000', i)))
  endfor
  g:WaitFor(() => len(LogLines(runId, 's')) >= len(expected), '5,000 lines in the log buffer', 30000)
  g:WaitStatus(runId, 'done')
  var got = LogLines(runId, 's')
  assert_equal(len(expected), len(got))
  if got != expected
    var i = 0
    while i < len(got) && i < len(expected) && got[i] == expected[i]
      i += 1
    endwhile
    assert_report(printf('first difference at line %d: %s vs %s', i + 1, string(get(got, i, '')), string(get(expected, i, ''))))
  endif
  # both halves of the join took part: lines from the file, then live ones
  var st = drover#log#States()[runId .. '/s']
  assert_true(st.from_file > 0 && st.from_file < 5000, 'lines from the file: ' .. st.from_file)
enddef

# Opened after the step failed: all from the file, stderr included, the
# agent-protocol lines shown as their text.
def g:Test_log_backfill_of_finished_step()
  g:Pipeline('failing', [g:FakeStep('s', [[{say: 'hello'}, {spam: 3}, {fail: 'boom'}]])])
  Trust()
  DroverRun failing go
  g:WaitFor(() => !empty(g:NewestRun()), 'the run')
  var runId = g:NewestRun()
  g:WaitStatus(runId, 'failed')
  var name = 'drover://run/' .. runId
  g:WaitFor(() => g:BufHas(name, '^Failure (agent): boom'), 'the failure in the run buffer')
  assert_true(g:BufHas(name, '^Hint: .*retry'))
  # from the run buffer: cursor on the step, <CR>
  execute 'buffer ' .. bufnr(name)
  cursor(match(getline(1, '$'), '^  . s ') + 1, 1)
  feedkeys("\<CR>", 'xt')
  g:WaitFor(() => len(LogLines(runId, 's')) >= 6, 'the log')
  assert_equal(['── attempt 1 ──', 'hello', 'spam 1/3', 'spam 2/3', 'spam 3/3', 'boom'], LogLines(runId, 's'))
enddef

# A log opened before its step runs gets every line live.
def g:Test_log_opened_before_step_runs()
  g:Pipeline('later', [
    g:FakeStep('first', [[{say: 'first'}, {sleep: 0.5}, {result: 'one'}]]),
    g:FakeStep('second', [[{say: 'line A'}, {say: 'line B'}, {result: 'two'}]]),
  ])
  Trust()
  DroverRun later go
  g:WaitFor(() => !empty(g:NewestRun()), 'the run')
  var runId = g:NewestRun()
  execute 'DroverLog ' .. runId .. ' second'
  g:WaitStatus(runId, 'done')
  g:WaitFor(() => len(LogLines(runId, 'second')) >= 3, 'the live lines')
  assert_equal(['── attempt 1 ──', 'line A', 'line B'], LogLines(runId, 'second'))
enddef
