vim9script
# Commands, the runs buffer, run buffers, gate notifications and the status.

import autoload 'drover/rpc.vim'
import autoload 'drover/ui.vim'
import autoload 'drover/util.vim'
import autoload 'drover/inbox.vim'
import autoload 'drover/log.vim'
import autoload 'drover/diff.vim'

const GATE_TYPES = ['decision.requested', 'decision.resolved', 'approval.requested', 'approval.resolved']

var counts = {gates: 0, running: 0}
var status_timer = 0
var runs_timer = 0
# runId -> {buf, lastSeq, events, run, syncing, again, timer}
var views: dict<dict<any>> = {}
# child run id -> parent run id, for the children shown in run views
var child_parent: dict<string> = {}

# ---------------------------------------------------------------- listeners

var wired = false
def Wire()
  if wired
    return
  endif
  wired = true
  rpc.On('run/event', 'core', OnEvent)
  rpc.On('$/ready', 'core', OnReady)
  rpc.On('$/dead', 'core', (_) => {
    counts = {gates: 0, running: 0}
    redrawstatus!
  })
  inbox.Wire()
  log.Wire()
enddef

# Every command goes through here: the server starts (or restarts) on demand.
export def Start(): bool
  Wire()
  return rpc.Ensure()
enddef

def OnReady(info: dict<any>)
  RefreshStatus()
  if get(info, 'restarted', false)
    # Catch up with what happened while we were away.
    for runId in keys(views)
      Sync(runId)
    endfor
    ScheduleRuns()
    inbox.Refresh()
  endif
enddef

def OnEvent(ev: dict<any>)
  var runId = get(ev, 'runId', '')
  var type = get(ev, 'type', '')
  var data = get(ev, 'data', {})
  if type == 'decision.requested'
    ui.Notify(printf('Drover: run %s, step %s asks: %s [%s]', runId, get(data, 'stepId', '?'),
      get(data, 'question', ''), join(get(data, 'options', []), '/')))
  elseif type == 'approval.requested'
    ui.Notify(printf('Drover: run %s, step %s awaits your approval (:DroverInbox)', runId, get(data, 'stepId', '?')))
  endif
  if has_key(views, runId)
    Live(runId, ev)
  endif
  # a child run changed: the views of its parent show its status
  if has_key(child_parent, runId) && has_key(views, child_parent[runId])
    ScheduleFetch(child_parent[runId])
  endif
  if type =~ '^run\.' || index(GATE_TYPES, type) >= 0
    ScheduleStatus()
    ScheduleRuns()
    # any run.* event: a parent waiting on children ("children" inbox items) changes with them
    inbox.Schedule()
  elseif type == 'step.started'
    ScheduleRuns()
  endif
enddef

# ---------------------------------------------------------------- status

def ScheduleStatus()
  if status_timer == 0
    status_timer = timer_start(100, (_) => {
      status_timer = 0
      RefreshStatus()
    })
  endif
enddef

def RefreshStatus()
  if rpc.State() != 'ready'
    return
  endif
  rpc.Request('inbox/list', {}, (r) => {
    # a parent waiting on its child runs is listed too, but nobody answers it
    counts.gates = len(filter(get(r, 'items', []), (_, item) => index(['decision', 'approval'], get(item, 'kind', '')) >= 0))
    redrawstatus!
  })
  rpc.Request('run/list', {status: ['queued', 'running']}, (r) => {
    counts.running = len(get(r, 'runs', []))
    redrawstatus!
  })
enddef

# For 'statusline': '' before the server starts, then e.g. "Drover: 1 gate, 2 running".
export def Status(): string
  var state = rpc.State()
  if state == 'stopped'
    return ''
  elseif state == 'dead'
    return 'Drover: server stopped'
  elseif state == 'starting'
    return 'Drover: starting'
  endif
  var parts: list<string> = []
  if counts.gates > 0
    add(parts, counts.gates .. (counts.gates == 1 ? ' gate' : ' gates'))
  endif
  if counts.running > 0
    add(parts, counts.running .. ' running')
  endif
  return 'Drover: ' .. (empty(parts) ? 'idle' : join(parts, ', '))
enddef

# ---------------------------------------------------------------- :DroverRun

# :[range]DroverRun [pipeline [task]]
export def Run(range: number, line1: number, line2: number, args: string)
  if !Start()
    return
  endif
  var m = matchlist(args, '\v^\s*(\S+)\s*(.*)$')
  var pipeline = empty(m) ? '' : m[1]
  var task = empty(m) ? '' : trim(m[2])
  if empty(task) && range > 0
    task = join(getline(line1, line2), "\n")
  endif
  if !empty(pipeline)
    AskTask(pipeline, task)
    return
  endif
  rpc.Request('pipeline/list', {}, (r) => PickPipeline(get(r, 'pipelines', []), task))
enddef

def PickPipeline(pipelines: list<dict<any>>, task: string)
  if empty(pipelines)
    ui.Error('Drover: the server offers no pipelines')
    return
  endif
  var width = max(mapnew(pipelines, (_, p) => strcharlen(p.id)))
  var items = mapnew(pipelines, (_, p) => printf('%-' .. width .. 's  %s%s', p.id,
    get(p, 'description', get(p, 'name', '')),
    empty(get(p, 'errors', [])) ? '' : '  [invalid: ' .. join(p.errors, '; ') .. ']'))
  ui.Select('Drover: pipeline', items, (idx) => {
    if idx < 1 || idx > len(pipelines)
      return
    endif
    var p = pipelines[idx - 1]
    if !empty(get(p, 'errors', []))
      ui.Error(printf('Drover: pipeline %s cannot run: %s', p.id, join(p.errors, '; ')))
      return
    endif
    AskTask(p.id, task)
  })
enddef

def AskTask(pipeline: string, given: string)
  var task = given
  if empty(trim(task))
    task = ui.Input(printf('Task for %s: ', pipeline))
  endif
  if empty(trim(task))
    ui.Info('Drover: no task given, nothing started')
    return
  endif
  StartRun(pipeline, task)
enddef

def StartRun(pipeline: string, task: string)
  rpc.Request('run/start', {pipelineId: pipeline, task: task}, (r) => {
    var run = r.run
    ui.Info(printf('Drover: started %s (%s)', run.id, pipeline))
    if get(g:, 'drover_open_run', 1)
      OpenRun(run.id)
    endif
  }, (err): bool => {
    if get(err, 'code', 0) == -33003
      AskTrust(get(err, 'message', ''), () => StartRun(pipeline, task))
      return true
    endif
    return false
  })
enddef

# ---------------------------------------------------------------- trust

def AskTrust(why: string, Then: func())
  var ws = empty(rpc.ServerWorkspace()) ? rpc.Workspace() : rpc.ServerWorkspace()
  var msg = (empty(why) ? '' : why .. "\n\n") ..
    printf("Trust the workspace %s?\nIts pipelines and agent configuration can run commands on this machine.", ws)
  if ui.Confirm(msg, "&Trust\n&Cancel", 2) != 1
    ui.Info('Drover: workspace not trusted')
    return
  endif
  rpc.Request('workspace/trust', {trusted: true}, (r) => {
    ui.Info('Drover: workspace trusted: ' .. ws)
    Then()
  })
enddef

export def Trust()
  if !Start()
    return
  endif
  AskTrust('', Noop)
enddef

def Noop()
enddef

export def Stop()
  rpc.Stop()
  ui.Info('Drover: server stopped')
enddef

# ---------------------------------------------------------------- runs buffer

const RUNS = 'drover://runs'

export def Runs()
  if !Start()
    return
  endif
  var buf = util.Open(RUNS, 'drover-runs')
  nnoremap <buffer> <silent> <CR> <ScriptCmd>OpenRunAtCursor()<CR>
  nnoremap <buffer> <silent> c <ScriptCmd>RunAction('run/cancel', RunIdAtCursor())<CR>
  nnoremap <buffer> <silent> r <ScriptCmd>RunAction('run/retry', RunIdAtCursor())<CR>
  nnoremap <buffer> <silent> l <ScriptCmd>LogFor(RunIdAtCursor(), '')<CR>
  nnoremap <buffer> <silent> d <ScriptCmd>DiffOf(RunIdAtCursor(), '')<CR>
  nnoremap <buffer> <silent> A <ScriptCmd>ApplyRun(RunIdAtCursor(), '')<CR>
  nnoremap <buffer> <silent> R <ScriptCmd>RefreshRuns()<CR>
  nnoremap <buffer> <silent> q <Cmd>close<CR>
  if LineCount(buf) <= 1 && getbufline(buf, 1)[0] == ''
    util.SetLines(buf, ['Loading runs…'])
  endif
  RefreshRuns()
enddef

def LineCount(buf: number): number
  return util.LineCount(buf)
enddef

def ScheduleRuns()
  if bufexists(RUNS) && runs_timer == 0
    runs_timer = timer_start(100, (_) => {
      runs_timer = 0
      RefreshRuns()
    })
  endif
enddef

def RefreshRuns()
  if !bufexists(RUNS)
    return
  endif
  rpc.Request('run/list', {limit: 100}, (r) => RenderRuns(get(r, 'runs', [])))
enddef

def RenderRuns(runs: list<dict<any>>)
  var buf = bufnr('^' .. RUNS .. '$')
  if buf < 0
    return
  endif
  var keys = ['<CR> open']
  if rpc.Has('run/cancel')
    add(keys, 'c cancel')
  endif
  if rpc.Has('run/retry')
    add(keys, 'r retry')
  endif
  if rpc.Has('run/diff')
    add(keys, 'd diff')
  endif
  if rpc.Has('run/apply')
    add(keys, 'A apply')
  endif
  add(keys, 'l log')
  add(keys, 'R refresh')
  add(keys, 'q close')
  var lines = ['Drover runs — ' .. join(keys, ' · '), '']
  var ids: dict<string> = {}
  if empty(runs)
    add(lines, 'No runs yet. Start one with :DroverRun')
  endif
  var header = printf('%-26s %-12s %-10s %-10s %s', 'RUN', 'PIPELINE', 'STATUS', 'STEP', 'AGE')
  if !empty(runs)
    add(lines, header)
  endif
  var by_id: dict<dict<any>> = {}
  for run in runs
    by_id[run.id] = run
  endfor
  # A child run is listed under its parent (indented, ↳); one whose parent is not listed stands alone.
  for run in runs
    if !has_key(by_id, get(run, 'parentRunId', ''))
      AddRunLines(lines, ids, run, runs, 0)
    endif
  endfor
  setbufvar(buf, 'drover_run_ids', ids)
  util.SetLines(buf, lines)
enddef

# The child runs of `run` among `runs`: in the order its fan-out steps list them, then any others.
def ChildrenOf(run: dict<any>, runs: list<dict<any>>): list<dict<any>>
  var order: list<string> = []
  for st in get(run, 'steps', [])
    extend(order, get(st, 'children', []))
  endfor
  var children = filter(copy(runs), (_, r) => get(r, 'parentRunId', '') == run.id)
  return sort(children, (a, b) => {
    var ia = index(order, a.id)
    var ib = index(order, b.id)
    ia = ia < 0 ? 100000 : ia
    ib = ib < 0 ? 100000 : ib
    return ia != ib ? ia - ib : (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  })
enddef

def AddRunLines(lines: list<string>, ids: dict<string>, run: dict<any>, runs: list<dict<any>>, depth: number)
  var children = ChildrenOf(run, runs)
  add(lines, printf('%s%-26s %-12s %-10s %-10s %s%s', depth > 0 ? repeat('  ', depth) .. '↳ ' : '', run.id,
    run.pipelineId, run.status, get(run, 'currentStep', '-'), util.Age(run.createdAt),
    empty(children) ? '' : '   [' .. util.ChildrenSummary(children) .. ']'))
  ids[string(len(lines))] = run.id
  for child in children
    AddRunLines(lines, ids, child, runs, depth + 1)
  endfor
enddef

def RunIdAtCursor(): string
  if exists('b:drover_run_id')
    return b:drover_run_id
  endif
  return get(get(b:, 'drover_run_ids', {}), string(line('.')), '')
enddef

def OpenRunAtCursor()
  var id = RunIdAtCursor()
  if empty(id)
    return
  endif
  OpenRun(id)
enddef

def RunAction(method: string, runId: string)
  if empty(runId)
    ui.Info('Drover: no run on this line')
    return
  endif
  if !rpc.Has(method)
    ui.Error('Drover: this server does not offer ' .. method)
    return
  endif
  if method == 'run/cancel' && ui.Confirm(printf('Cancel run %s?', runId), "&Cancel run\n&Keep it", 2) != 1
    return
  endif
  rpc.Request(method, {runId: runId}, (r) => {
    ui.Info(printf('Drover: %s %s → %s', method, runId, r.run.status))
    ScheduleRuns()
  })
enddef

# ---------------------------------------------------------------- run buffers

export def OpenRun(runId: string)
  if !Start()
    return
  endif
  var name = 'drover://run/' .. runId
  var buf = util.Open(name, 'drover-run')
  b:drover_run_id = runId
  nnoremap <buffer> <silent> c <ScriptCmd>RunAction('run/cancel', b:drover_run_id)<CR>
  nnoremap <buffer> <silent> r <ScriptCmd>RunAction('run/retry', b:drover_run_id)<CR>
  nnoremap <buffer> <silent> s <ScriptCmd>RestartAtCursor()<CR>
  nnoremap <buffer> <silent> l <ScriptCmd>LogFor(b:drover_run_id, StepAtCursor())<CR>
  nnoremap <buffer> <silent> <CR> <ScriptCmd>OpenOrLog()<CR>
  nnoremap <buffer> <silent> i <ScriptCmd>inbox.Open()<CR>
  nnoremap <buffer> <silent> d <ScriptCmd>DiffOf(b:drover_run_id, StepAtCursor())<CR>
  nnoremap <buffer> <silent> A <ScriptCmd>ApplyRun(b:drover_run_id, '')<CR>
  nnoremap <buffer> <silent> R <ScriptCmd>Sync(b:drover_run_id)<CR>
  nnoremap <buffer> <silent> q <Cmd>close<CR>
  augroup drover_run_views
    execute printf('autocmd! BufWipeout <buffer=%d> Forget(%s)', buf, string(runId))
  augroup END
  if !has_key(views, runId)
    views[runId] = {buf: buf, lastSeq: 0, events: [], run: {}, children: {}, syncing: false, again: false, timer: 0}
    util.SetLines(buf, ['Loading ' .. runId .. '…'])
  endif
  views[runId].buf = buf
  Sync(runId)
enddef

def Forget(runId: string)
  if has_key(views, runId)
    remove(views, runId)
  endif
enddef

# Reads the events the view lacks (paging while `more`), then the run itself.
def Sync(runId: string)
  if !has_key(views, runId)
    return
  endif
  var v = views[runId]
  if v.syncing
    v.again = true
    return
  endif
  v.syncing = true
  v.again = false
  Page(runId)
enddef

def Page(runId: string)
  var v = views[runId]
  rpc.Request('run/events', {runId: runId, afterSeq: v.lastSeq}, (r) => {
    for ev in get(r, 'events', [])
      if ev.seq == v.lastSeq + 1
        add(v.events, ev)
        v.lastSeq = ev.seq
      endif
    endfor
    if get(r, 'more', false)
      Page(runId)
      return
    endif
    v.syncing = false
    FetchRun(runId)
    if v.again
      Sync(runId)
    endif
  }, (err): bool => {
    v.syncing = false
    return false
  })
enddef

def Live(runId: string, ev: dict<any>)
  var v = views[runId]
  if v.syncing
    v.again = true
    return
  endif
  if ev.seq <= v.lastSeq
    return
  elseif ev.seq == v.lastSeq + 1
    add(v.events, ev)
    v.lastSeq = ev.seq
    ScheduleFetch(runId)
  else
    Sync(runId) # a gap: read what is missing
  endif
enddef

def ScheduleFetch(runId: string)
  var v = views[runId]
  if v.timer == 0
    v.timer = timer_start(50, (_) => {
      v.timer = 0
      FetchRun(runId)
    })
  endif
enddef

# Reads the run, then the child runs of its fan-out steps (the view shows their status).
def FetchRun(runId: string)
  rpc.Request('run/get', {runId: runId}, (r) => {
    if !has_key(views, runId)
      return
    endif
    views[runId].run = r.run
    RenderRun(runId)
    for st in r.run.steps
      for childId in get(st, 'children', [])
        FetchChild(runId, childId)
      endfor
    endfor
  })
enddef

# (A function of its own: a closure in a loop would share the loop variable in Vim 9.0.)
def FetchChild(runId: string, childId: string)
  child_parent[childId] = runId
  rpc.Request('run/get', {runId: childId}, (c) => {
    if has_key(views, runId)
      views[runId].children[childId] = c.run
      RenderRun(runId)
    endif
  })
enddef

def EventSummary(ev: dict<any>): string
  var d = get(ev, 'data', {})
  var t = ev.type
  var s = ''
  if t == 'step.started' || t == 'step.interrupted'
    s = printf('%s (attempt %d)', get(d, 'stepId', ''), get(d, 'attempt', 0))
  elseif t == 'step.skipped'
    s = printf('%s: %s', get(d, 'stepId', ''), util.FirstLine(get(d, 'reason', ''), 50))
  elseif t == 'step.completed'
    s = printf('%s: %s', get(d, 'stepId', ''), util.FirstLine(get(d, 'output', ''), 50))
  elseif t == 'step.failed' || t == 'run.failed'
    var f = get(d, 'failure', {})
    s = printf('%s%s: %s', get(d, 'stepId', ''), empty(get(d, 'stepId', '')) ? get(f, 'kind', '') : '', util.FirstLine(get(f, 'message', ''), 50))
  elseif t == 'decision.requested'
    s = printf('%s asks: %s [%s]', get(d, 'stepId', ''), get(d, 'question', ''), join(get(d, 'options', []), '/'))
  elseif t == 'decision.resolved'
    s = printf('%s: chose %s', get(d, 'stepId', ''), get(d, 'choice', ''))
  elseif t == 'approval.requested'
    s = printf('%s awaits approval', get(d, 'stepId', ''))
  elseif t == 'approval.resolved'
    s = printf('%s: %s%s', get(d, 'stepId', ''), get(d, 'status', ''),
      empty(get(d, 'feedback', '')) ? '' : ' — ' .. util.FirstLine(d.feedback, 50))
  elseif t == 'usage.recorded'
    s = printf('%s: %s, %d in / %d out', get(d, 'stepId', ''), get(d, 'model', ''), get(d, 'inputTokens', 0), get(d, 'outputTokens', 0))
  elseif t == 'run.retried' || t == 'run.restarted'
    s = 'from ' .. get(d, 'fromStep', '')
  elseif t == 'run.cancelled'
    s = get(d, 'reason', '')
  elseif t == 'run.workspace'
    s = get(d, 'isolation', '') == 'worktree' ? printf('worktree %s on %s', get(d, 'path', ''), get(d, 'branch', ''))
      : printf('%s (no isolation)', get(d, 'path', ''))
  elseif t == 'step.committed'
    s = printf('%s: %s, %d files, +%d -%d', get(d, 'stepId', ''), get(d, 'sha', '')[: 6], get(d, 'files', 0),
      get(d, 'insertions', 0), get(d, 'deletions', 0))
  elseif t == 'tests.finished'
    s = printf('%s: %s', get(d, 'stepId', ''), get(d, 'passed', false) ? 'passed' : 'failed')
  elseif t == 'review.verdict'
    s = printf('%s graded %s: %s', get(d, 'stepId', ''), get(d, 'reviews', ''), util.Verdict(d))
  elseif t == 'review.rework'
    s = printf('%s sends %s back (round %s)', get(d, 'stepId', ''), get(d, 'reviews', ''), get(d, 'round', '?'))
  elseif t == 'review.malformed'
    s = printf('%s: not a verdict (%s)', get(d, 'stepId', ''), util.FirstLine(get(d, 'problem', ''), 50))
  elseif t == 'consensus.candidate'
    s = has_key(d, 'failure') ? printf('%s: %s gave no answer (%s)', get(d, 'stepId', ''), get(d, 'role', ''), get(d.failure, 'kind', '?'))
      : printf('%s: %s answered %s', get(d, 'stepId', ''), get(d, 'role', ''), util.FirstLine(trim(get(d, 'output', '')), 50))
  elseif t == 'consensus.decided'
    s = printf('%s: %s won (%s)', get(d, 'stepId', ''), get(d, 'winner', ''), get(d, 'strategy', ''))
  elseif t == 'run.children'
    s = printf('%s: %d child runs', get(d, 'stepId', ''), len(get(d, 'children', [])))
  elseif t == 'child.merged'
    s = printf('%s: %s %s', get(d, 'stepId', ''), get(d, 'childRunId', ''), get(d, 'outcome', ''))
  elseif t == 'run.applied'
    s = printf('%s%s', get(d, 'strategy', ''), has_key(d, 'into') ? ' into ' .. d.into : '')
  endif
  return printf('%4d  %-20s %s', ev.seq, t, s)
enddef

def RenderRun(runId: string)
  var v = views[runId]
  var run = v.run
  if !bufexists(v.buf) || empty(run)
    return
  endif
  var u = get(run, 'usage', {})
  var lines = [
    printf('Run %s   %s   %s', run.id, run.pipelineId, toupper(run.status)),
    'Task: ' .. util.FirstLine(run.task, 200),
    printf('Usage: %d in / %d out tokens, $%.4f', get(u, 'inputTokens', 0), get(u, 'outputTokens', 0), 0.0 + get(u, 'costUSD', 0)),
  ]
  var open_runs: dict<string> = {}
  if has_key(run, 'parentRunId')
    add(lines, printf('Parent: %s (step %s)   <CR> opens it', run.parentRunId, get(run, 'parentStepId', '?')))
    open_runs[string(len(lines))] = run.parentRunId
  endif
  var ws = get(run, 'workspace', {})
  if get(ws, 'isolation', '') == 'worktree'
    add(lines, printf('Workspace: worktree %s%s', get(ws, 'path', '?'), get(ws, 'removed', false) ? ' (removed)' : ''))
    add(lines, printf('Branch: %s from %s%s', get(ws, 'branch', '?'), get(ws, 'base', 'HEAD'),
      has_key(ws, 'baseCommit') ? ' (' .. ws.baseCommit[: 6] .. ')' : ''))
  elseif !empty(ws)
    add(lines, printf('Workspace: %s (no isolation%s)', get(ws, 'path', '?'), has_key(ws, 'note') ? ': ' .. ws.note : ''))
  endif
  if has_key(ws, 'applied')
    add(lines, printf('Applied: %s%s%s', get(ws.applied, 'strategy', '?'),
      has_key(ws.applied, 'into') ? ' into ' .. ws.applied.into : '',
      has_key(ws.applied, 'commit') ? ', commit ' .. ws.applied.commit[: 6] : ''))
  endif
  if has_key(run, 'failure')
    add(lines, printf('Failure (%s): %s', run.failure.kind, util.FirstLine(run.failure.message, 200)))
    add(lines, 'Hint: ' .. util.FirstLine(get(run.failure, 'hint', ''), 200))
  endif
  var keys = ['<CR>/l log of step (<CR> on a child/parent run opens it)']
  if rpc.Has('run/cancel')
    add(keys, 'c cancel')
  endif
  if rpc.Has('run/retry')
    add(keys, 'r retry')
  endif
  if rpc.Has('run/restart')
    add(keys, 's restart from step')
  endif
  if rpc.Has('run/diff')
    add(keys, 'd diff (of the step)')
  endif
  if rpc.Has('run/apply')
    add(keys, 'A apply')
  endif
  add(keys, 'i inbox')
  add(keys, 'R refresh')
  add(lines, 'Keys: ' .. join(keys, ' · '))
  add(lines, '')
  add(lines, 'Steps:')
  var steps: dict<string> = {}
  for st in run.steps
    var gate = ''
    if has_key(st, 'approval') && st.state == 'waiting'
      gate = 'approval ' .. st.approval.status
    elseif has_key(st, 'decision')
      gate = has_key(st.decision, 'chosen') ? printf('decision: %s → %s', st.decision.question, st.decision.chosen)
        : printf('asks: %s [%s]', st.decision.question, join(st.decision.options, '/'))
    elseif has_key(st, 'approval')
      gate = 'approval ' .. st.approval.status
    endif
    add(lines, printf('  %s %-12s %-8s attempts %d  %s', get(run, 'currentStep', '') == st.id ? '>' : ' ',
      st.id, st.state, st.attempts, gate))
    steps[string(len(lines))] = st.id
    for ev in v.events
      if ev.type == 'step.committed' && get(ev.data, 'stepId', '') == st.id
        var c = ev.data
        add(lines, printf('      commit %s (attempt %d): %d file%s, +%d -%d', get(c, 'sha', '?')[: 6], get(c, 'attempt', 0),
          get(c, 'files', 0), get(c, 'files', 0) == 1 ? '' : 's', get(c, 'insertions', 0), get(c, 'deletions', 0)))
        steps[string(len(lines))] = st.id
      endif
    endfor
    AddHistoryLines(lines, v, st, open_runs)
  endfor
  add(lines, '')
  add(lines, 'Events:')
  extend(lines, mapnew(v.events, (_, ev) => EventSummary(ev)))
  setbufvar(v.buf, 'drover_step_lines', steps)
  setbufvar(v.buf, 'drover_open_runs', open_runs)
  setbufvar(v.buf, 'drover_run', run)
  util.SetLines(v.buf, lines)
enddef

# The history of one step a run view shows under it: the review next to its approval, review rounds
# with findings, consensus answers and the winner, and a fan-out's child runs (each line in
# `open_runs`, so <CR> opens it). Appends to `lines`.
def AddHistoryLines(out: list<string>, v: dict<any>, st: dict<any>, open_runs: dict<string>)
  if has_key(st, 'approval') && has_key(st.approval, 'review')
    add(out, '      approval review by ' .. get(st.approval.review, 'stepId', '?') .. ', ' .. util.Verdict(st.approval.review))
    extend(out, mapnew(get(st.approval.review, 'findings', []), (_, f) => '        - ' .. util.FirstLine(f, 100)))
  endif
  for ev in v.events
    var d = get(ev, 'data', {})
    if get(d, 'stepId', '') != st.id
      continue
    endif
    if ev.type == 'review.verdict'
      add(out, printf('      review of %s, %s', get(d, 'reviews', '?'), util.Verdict(d)))
      extend(out, mapnew(get(d, 'findings', []), (_, f) => '        - ' .. util.FirstLine(f, 100)))
    elseif ev.type == 'review.malformed'
      add(out, printf('      review attempt %s: not a verdict (%s): %s', get(d, 'attempt', '?'), util.FirstLine(get(d, 'problem', ''), 80),
        util.FirstLine(get(d, 'text', ''), 80)))
    elseif ev.type == 'consensus.candidate'
      # a role that failed (or timed out, asked, was rate limited) gave no answer: its failure says why
      var answer = has_key(d, 'failure')
        ? printf('no answer (%s): %s', get(d.failure, 'kind', '?'), util.FirstLine(get(d.failure, 'message', ''), 80))
        : util.FirstLine(trim(get(d, 'output', '')), 80)
      add(out, printf('      candidate %s (attempt %s): %s%s', get(d, 'role', '?'), get(d, 'attempt', '?'), answer,
        has_key(d, 'commit') ? ' (commit ' .. d.commit[: 6] .. ')' : ''))
    elseif ev.type == 'consensus.decided'
      add(out, printf('      * %s won (%s)%s: %s%s', get(d, 'winner', '?'), get(d, 'strategy', '?'),
        has_key(d, 'reasons') ? ' — ' .. util.FirstLine(d.reasons, 80) : '', util.FirstLine(trim(get(d, 'output', '')), 80),
        has_key(d, 'changesFrom') ? '   (changes from ' .. d.changesFrom .. ')' : ''))
    endif
  endfor
  var ids = get(st, 'children', [])
  if !empty(ids)
    var merges: dict<dict<any>> = {}
    for ev in v.events
      if ev.type == 'child.merged' && get(ev.data, 'stepId', '') == st.id
        merges[get(ev.data, 'childRunId', '')] = ev.data
      endif
    endfor
    var children = mapnew(ids, (_, id) => get(v.children, id, {id: id, status: '?', task: ''}))
    add(out, '      ' .. util.ChildrenSummary(children) .. '   (<CR> on one opens it)')
    for child in children
      var m = get(merges, child.id, {})
      add(out, printf('        ↳ %-9s %s  %s%s', child.status, child.id, util.FirstLine(get(child, 'task', ''), 60),
        empty(m) ? '' : ' — ' .. get(m, 'outcome', '?') .. (has_key(m, 'commit') ? ' ' .. m.commit[: 6] : '')))
      open_runs[string(len(out))] = child.id
    endfor
  endif
enddef

def OpenOrLog()
  var id = get(get(b:, 'drover_open_runs', {}), string(line('.')), '')
  if !empty(id)
    OpenRun(id)
  else
    LogFor(b:drover_run_id, StepAtCursor())
  endif
enddef

def StepAtCursor(): string
  return get(get(b:, 'drover_step_lines', {}), string(line('.')), '')
enddef

def RestartAtCursor()
  var step = StepAtCursor()
  if empty(step)
    ui.Info('Drover: put the cursor on a step to restart from it')
    return
  endif
  if !rpc.Has('run/restart')
    ui.Error('Drover: this server does not offer run/restart')
    return
  endif
  var runId = b:drover_run_id
  rpc.Request('run/restart', {runId: runId, fromStep: step}, (r) => {
    ui.Info(printf('Drover: restarted %s from %s', runId, step))
  })
enddef

# ---------------------------------------------------------------- logs

# :DroverLog [run] [step]: defaults to this buffer's run (and the step under
# the cursor), else the newest run; the step defaults to the current one.
export def Log(args: string)
  if !Start()
    return
  endif
  var a = split(args)
  var runId = get(a, 0, '')
  var step = get(a, 1, '')
  if empty(runId) && exists('b:drover_run_id')
    runId = b:drover_run_id
    step = empty(step) ? StepAtCursor() : step
  endif
  if empty(runId)
    rpc.Request('run/list', {limit: 1}, (r) => {
      var runs = get(r, 'runs', [])
      if empty(runs)
        ui.Info('Drover: no runs yet')
      else
        LogFor(runs[0].id, step)
      endif
    })
    return
  endif
  LogFor(runId, step)
enddef

def LogFor(runId: string, step: string)
  if empty(runId)
    ui.Info('Drover: no run on this line')
    return
  endif
  if !empty(step)
    log.Open(runId, step)
    return
  endif
  rpc.Request('run/get', {runId: runId}, (r) => {
    var run = r.run
    var chosen = get(run, 'currentStep', '')
    if empty(chosen)
      var started = filter(copy(run.steps), (_, s) => s.attempts > 0)
      chosen = empty(started) ? run.steps[0].id : started[-1].id
    endif
    log.Open(runId, chosen)
  })
enddef

# ---------------------------------------------------------------- diff, apply

# The run a command without arguments means: this buffer's, the one on the
# cursor line of the runs buffer, else none.
def ContextRun(): string
  return RunIdAtCursor()
enddef

def DiffOf(runId: string, step: string)
  if empty(runId)
    ui.Info('Drover: no run on this line')
    return
  endif
  diff.Open(runId, step)
enddef

def ApplyRun(runId: string, strategy: string)
  diff.Apply(runId, strategy, (run) => {
    ScheduleRuns()
    if has_key(views, runId)
      Sync(runId)
    endif
  })
enddef

# :DroverDiff [run [step]]
export def Diff(args: string)
  if !Start()
    return
  endif
  var a = split(args)
  var runId = get(a, 0, ContextRun())
  DiffOf(runId, get(a, 1, ''))
enddef

# :DroverApply [run [merge|squash|patch]]
export def Apply(args: string)
  if !Start()
    return
  endif
  var a = split(args)
  var runId = get(a, 0, ContextRun())
  if empty(runId)
    ui.Info('Drover: which run? :DroverApply RUN [merge|squash|patch]')
    return
  endif
  ApplyRun(runId, get(a, 1, ''))
enddef

export def Inbox()
  if !Start()
    return
  endif
  inbox.Open()
enddef
