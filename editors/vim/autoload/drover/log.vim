vim9script
# drover://log/<run>/<step> — a step's output, complete even when opened while
# the step runs. Live `run/log` lines are held from the moment the buffer
# opens; the attempt's log file is read with `step/log` pages up to its end
# (offset N just after its last complete line); then the held and later live
# lines are appended only if their `offset` is >= N, so no line is doubled or
# lost. A server that sends no `offset` gets every held line appended.

import autoload 'drover/rpc.vim'
import autoload 'drover/ui.vim'
import autoload 'drover/util.vim'

# "<run>/<step>" -> {buf, runId, stepId, base, backfilled, held, next, shown, empty, queue, timer}
var logs: dict<dict<any>> = {}

var wired = false
export def Wire()
  if wired
    return
  endif
  wired = true
  rpc.On('run/log', 'log', OnLive)
  rpc.On('$/ready', 'log', (info) => {
    # After a restart, lines printed meanwhile exist only in the files: read them again.
    if get(info, 'restarted', false)
      for key in keys(logs)
        Reload(logs[key])
      endfor
    endif
  })
enddef

# The state of each open log (for tests and debugging).
export def States(): dict<dict<any>>
  return logs
enddef

export def Open(runId: string, stepId: string)
  Wire()
  var key = runId .. '/' .. stepId
  var buf = util.Open('drover://log/' .. key, 'drover-log')
  b:drover_run_id = runId
  nnoremap <buffer> <silent> q <Cmd>close<CR>
  nnoremap <buffer> <silent> R <ScriptCmd>Reload(States()[b:drover_log_key])<CR>
  b:drover_log_key = key
  augroup drover_logs
    execute printf('autocmd! BufWipeout <buffer=%d> Forget(%s)', buf, string(key))
  augroup END
  if has_key(logs, key)
    logs[key].buf = buf
    return
  endif
  logs[key] = {buf: buf, runId: runId, stepId: stepId}
  Reload(logs[key])
enddef

def Forget(key: string)
  if has_key(logs, key)
    remove(logs, key)
  endif
enddef

# Starts over: holds live lines, learns the latest attempt, reads its file.
def Reload(lg: dict<any>)
  extend(lg, {dropped: 0, from_file: 0, base: -1, backfilled: false, held: [], next: {}, shown: 0, empty: true, queue: [], timer: 0})
  util.SetLines(lg.buf, [])
  rpc.Request('run/get', {runId: lg.runId}, (r) => {
    var steps = filter(copy(r.run.steps), (_, s) => s.id == lg.stepId)
    if empty(steps)
      ui.Error(printf('Drover: run %s has no step %s', lg.runId, lg.stepId))
      return
    endif
    lg.base = steps[0].attempts
    if lg.base == 0
      Joined(lg, [], 0) # never ran: every line will come live
      return
    endif
    Backfill(lg, 0, [])
  })
enddef

def Backfill(lg: dict<any>, offset: number, chunks: list<string>)
  rpc.Request('step/log', {runId: lg.runId, stepId: lg.stepId, attempt: lg.base, offset: offset}, (r) => {
    var text = get(r, 'text', '')
    add(chunks, text)
    var next = get(r, 'nextOffset', offset + strlen(text))
    if get(r, 'eof', false) || empty(text)
      var all = join(chunks, '')
      var cut = strridx(all, "\n")
      var complete = cut < 0 ? '' : strpart(all, 0, cut + 1)
      var lines = split(complete, "\n", true)[: -2]
      Joined(lg, filter(mapnew(lines, (_, l) => Render(l)), (_, l) => type(l) == v:t_string), strlen(complete))
    else
      Backfill(lg, next, chunks)
    endif
  })
enddef

# What a person sees for one line of a log file, or v:none for agent
# protocol lines that are not output (usage, result, decision): the same text
# the server sends as run/log.
export def Render(line: string): any
  if line[0] != '{'
    return line
  endif
  var obj: any
  try
    obj = json_decode(line)
  catch
    return line
  endtry
  if type(obj) != v:t_dict || type(get(obj, 'type', 0)) != v:t_string
    return line
  endif
  if obj.type == 'log' && type(get(obj, 'text', 0)) == v:t_string
    return obj.text
  elseif obj.type == 'progress'
    var parts = ['progress']
    if type(get(obj, 'fraction', '')) == v:t_number || type(get(obj, 'fraction', '')) == v:t_float
      add(parts, printf('%d%%', float2nr(round(obj.fraction * 100))))
    endif
    if type(get(obj, 'message', 0)) == v:t_string
      add(parts, obj.message)
    endif
    return join(parts, ' ')
  elseif index(['usage', 'result', 'decision'], obj.type) >= 0
    return v:none
  endif
  return line
enddef

def Joined(lg: dict<any>, lines: list<any>, next: number)
  lg.next[string(lg.base)] = next
  lg.from_file = len(lines)
  if lg.base > 0
    Header(lg, lg.base)
  endif
  extend(lg.queue, lines)
  lg.backfilled = true
  var held = lg.held
  lg.held = []
  for params in held
    Deliver(lg, params)
  endfor
  Flush(lg)
enddef

def OnLive(params: dict<any>)
  var lg = get(logs, get(params, 'runId', '') .. '/' .. get(params, 'stepId', ''), {})
  if empty(lg)
    return
  endif
  if !lg.backfilled
    add(lg.held, params)
    return
  endif
  Deliver(lg, params)
  if lg.timer == 0
    lg.timer = timer_start(20, (_) => {
      lg.timer = 0
      Flush(lg)
    })
  endif
enddef

def Deliver(lg: dict<any>, params: dict<any>)
  var attempt = get(params, 'attempt', 0)
  if attempt < lg.base
    return # an older attempt than the one shown
  endif
  var offset = get(params, 'offset', v:null)
  var key = string(attempt)
  if type(offset) == v:t_number && has_key(lg.next, key) && offset < lg.next[key]
    lg.dropped += 1
    return # the file already gave us this line
  endif
  Header(lg, attempt)
  extend(lg.queue, split(get(params, 'text', ''), "\n", true))
enddef

def Header(lg: dict<any>, attempt: number)
  if lg.shown != attempt
    lg.shown = attempt
    add(lg.queue, printf('── attempt %d ──', attempt))
  endif
enddef

def Flush(lg: dict<any>)
  if empty(lg.queue)
    return
  endif
  var lines = lg.queue
  lg.queue = []
  util.Append(lg.buf, lines, lg.empty)
  lg.empty = false
enddef
