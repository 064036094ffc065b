vim9script
# Failures a user meets: no binary, a JSON-RPC error, the server dying, a slow server.

def g:Test_missing_binary_clear_message()
  g:drover_bin = '/nonexistent/drover'
  DroverRuns
  assert_match("cannot start the server: '/nonexistent/drover' is not an executable", g:Messages())
  assert_equal('', v:errmsg)
  assert_equal('', drover#status())
  # setting the right binary makes the next command work
  g:drover_bin = $DROVER_BIN
  DroverRuns
  g:WaitFor(() => g:BufHas('drover://runs', 'No runs yet'), 'the runs buffer')
enddef

def g:Test_jsonrpc_error_shown()
  DroverRun nope Some task
  g:WaitFor(() => g:Messages() =~ 'run/start failed', 'the error message')
  assert_match("Drover: run/start failed: No pipeline with id 'nope'; available: demo, implement", g:Messages())
  assert_equal('', v:errmsg)
enddef

# kill -9 the server: the user is told once; events that happen meanwhile
# (here another client answers the gate) are caught up with run/events when
# the next command restarts the server.
def g:Test_server_killed_restart_catch_up()
  DroverRun demo Survive a crash
  g:WaitFor(() => !empty(g:NewestRun()), 'the run')
  var runId = g:NewestRun()
  var name = 'drover://run/' .. runId
  g:WaitFor(() => g:BufHas(name, 'decision.requested'), 'the run buffer at the decision')
  var pid = drover#rpc#Pid()
  assert_true(pid > 0)
  system('kill -KILL ' .. pid)
  g:WaitFor(() => g:Messages() =~ 'the server exited', 'the crash message')
  assert_match('It restarts on the next Drover command', g:Messages())
  assert_equal('Drover: server stopped', drover#status())
  # meanwhile, elsewhere: the decision is answered
  var answers = g:OtherClient([{method: 'decision/resolve', params: {runId: runId, decisionId: 'd-plan-1', choice: 'quick'}}])
  assert_equal('quick', answers[0].result.run.steps[0].decision.chosen)
  # the next command restarts the server, and the run buffer catches up
  DroverInbox
  g:WaitFor(() => g:BufHas(name, 'decision.resolved\s\+plan: chose quick'), 'the run buffer to catch up')
  g:WaitFor(() => drover#rpc#State() == 'ready', 'the new server')
  assert_notequal(pid, drover#rpc#Pid())
  # it says so once
  assert_equal(1, len(filter(copy(drover#ui#History()), (_, m) => m =~ 'the server exited')))
  # the events shown are gapless and not doubled (read once the run rests at impl's approval: before
  # that, events after the one read may land before the buffer is compared)
  g:WaitFor(() => g:RunOf(runId).steps[1].state == 'waiting', 'the run to stop at the approval')
  var lastSeq = g:RunOf(runId).lastSeq
  g:WaitFor(() => g:BufHas(name, '^\s*' .. lastSeq .. '  '), 'the last event')
  var seqs = mapnew(filter(g:BufText(name), (_, l) => l =~ '^\s*\d\+  \S'), (_, l) => str2nr(l))
  assert_equal(range(1, lastSeq), seqs)
  var afters = mapnew(filter(copy(drover#rpc#Sent()), (_, m) => m.method == 'run/events'), (_, m) => m.params.afterSeq)
  # seq 6 is decision.requested (run.created, run.workspace, run.started, step.started, usage.recorded before it)
  assert_true(index(afters, 6) >= 0, 'caught up after seq 6: ' .. string(afters))
enddef

# A server slow to answer does not block the editor: the command returns at
# once and the buffer fills when the answer comes.
def g:Test_slow_server_does_not_block()
  writefile(['#!/bin/sh', 'sleep 1', 'exec "$DROVER_BIN" "$@"'], 'slow-drover')
  setfperm('slow-drover', 'rwxr-xr-x')
  g:drover_bin = getcwd() .. '/slow-drover'
  var start = reltime()
  DroverRuns
  var took = reltimefloat(reltime(start))
  assert_true(took < 0.5, 'DroverRuns took ' .. string(took) .. 's')
  assert_equal(['Loading runs…'], g:BufText('drover://runs'))
  g:WaitFor(() => g:BufHas('drover://runs', 'No runs yet'), 'the runs buffer')
enddef

# :DroverStop ends the server quietly (no crash message); the next command
# starts a new one. g:drover_ui functions replace the popup menu and input().
def g:Test_stop_then_next_command_restarts()
  DroverRuns
  g:WaitFor(() => drover#rpc#State() == 'ready', 'the server')
  var pid = drover#rpc#Pid()
  DroverStop
  g:WaitFor(() => drover#rpc#Pid() == 0, 'the server to stop')
  assert_notmatch('the server exited', g:Messages())
  assert_equal('', drover#status())
  var asked: list<any> = []
  g:drover_ui = {select: (title: string, items: list<string>): number => {
    add(asked, [title, items])
    return match(items, '^demo ') + 1
  }, input: (prompt: string, default: string): string => {
    add(asked, [prompt])
    return 'Picked by a hook'
  }}
  DroverRun
  g:WaitFor(() => !empty(asked), 'the pipeline question')
  assert_equal('Drover: pipeline', asked[0][0])
  assert_true(match(asked[0][1], '^demo \+Shows a decision') >= 0, string(asked[0][1]))
  g:WaitFor(() => !empty(g:NewestRun()), 'the run')
  assert_equal(['Task for demo: '], asked[1])
  assert_equal('Picked by a hook', g:RunOf(g:NewestRun()).task)
  assert_notequal(pid, drover#rpc#Pid())
enddef
