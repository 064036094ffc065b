vim9script
# The connection to `drover serve`: one job per Vim, LSP framing through Vim's
# own "lsp" channel mode, requests with callbacks (never a blocking eval), and
# listeners for the server's notifications.

import autoload 'drover/ui.vim'

const VERSION = '0.1.0'

var job: job = null_job
var chan: channel = null_channel
# 'stopped' (never started or shut down on purpose), 'starting' (initialize
# sent), 'ready', 'dead' (exited on its own; restarts on the next command).
var state = 'stopped'
var capabilities: dict<any> = {}
var server_workspace = ''
var waiting: list<list<any>> = []   # [method, params, OnOk, OnErr] sent once ready
var listeners: dict<dict<any>> = {} # method -> {key: Funcref}
var stderr_tail: list<string> = []
var generation = 0                  # counts servers started, to ignore stale callbacks
var sent: list<dict<any>> = []      # the last requests sent, for :DroverDebug and tests

export def Bin(): string
  if exists('g:drover_bin') && !empty(g:drover_bin)
    return g:drover_bin
  endif
  return empty($DROVER_BIN) ? 'drover' : $DROVER_BIN
enddef

export def Workspace(): string
  var ws = get(g:, 'drover_workspace', '')
  if empty(ws)
    ws = getcwd()
  endif
  return fnamemodify(ws, ':p')->substitute('/\+$', '', '')
enddef

export def State(): string
  return state
enddef

export def Capabilities(): dict<any>
  return capabilities
enddef

export def ServerWorkspace(): string
  return server_workspace
enddef

# True when the server lists `method` in capabilities.methods.
export def Has(method: string): bool
  return index(get(capabilities, 'methods', []), method) >= 0
enddef

export def Sent(): list<dict<any>>
  return sent
enddef

# Registers Fn(params) for the notification `method`; `key` names the
# listener so that registering again replaces it.
export def On(method: string, key: string, Fn: func)
  if !has_key(listeners, method)
    listeners[method] = {}
  endif
  listeners[method][key] = Fn
enddef

export def Off(method: string, key: string)
  if has_key(listeners, method) && has_key(listeners[method], key)
    remove(listeners[method], key)
  endif
enddef

def Emit(method: string, params: any)
  for [key, Fn] in items(copy(get(listeners, method, {})))
    try
      Fn(params)
    catch
      ui.Error('Drover: error in ' .. method .. ' handler ' .. key .. ': ' .. v:exception)
    endtry
  endfor
enddef

# Starts the server if it is not running. False (after telling the user) when
# it cannot be started.
export def Ensure(): bool
  if state == 'ready' || state == 'starting'
    return true
  endif
  var bin = Bin()
  if !executable(bin)
    ui.Error(printf("Drover: cannot start the server: '%s' is not an executable (set g:drover_bin or $DROVER_BIN)", bin))
    return false
  endif
  var was_dead = state == 'dead'
  generation += 1
  var gen = generation
  stderr_tail = []
  capabilities = {}
  try
    job = job_start([bin, 'serve'], {
      in_mode: 'lsp', out_mode: 'lsp', err_mode: 'nl',
      callback: (ch, msg) => OnMessage(gen, msg),
      err_cb: (ch, line) => OnStderr(gen, line),
      exit_cb: (j, status) => OnExit(gen, status),
      cwd: Workspace(),
      noblock: 1,
      stoponexit: 'term',
    })
  catch
    ui.Error('Drover: cannot start the server: ' .. v:exception)
    return false
  endtry
  if job_status(job) == 'fail'
    ui.Error(printf("Drover: cannot start the server '%s'", bin))
    return false
  endif
  chan = job_getchannel(job)
  state = 'starting'
  augroup drover_rpc
    autocmd!
    autocmd VimLeavePre * Leave()
  augroup END
  var params = {protocolVersion: 1, clientInfo: {name: 'vim-drover', version: VERSION},
                workspace: Workspace()}
  Send('initialize', params, (result) => {
    if gen != generation
      return
    endif
    capabilities = get(result, 'capabilities', {})
    server_workspace = get(result, 'workspace', '')
    state = 'ready'
    ch_sendexpr(chan, {method: 'initialized', params: {}})
    var queued = waiting
    waiting = []
    for [m, p, Ok, Err] in queued
      Send(m, p, Ok, Err)
    endfor
    Emit('$/ready', {restarted: was_dead})
  }, (err): bool => {
    if gen != generation
      return true
    endif
    ui.Error('Drover: the server refused to start: ' .. get(err, 'message', string(err)))
    waiting = []
    Stop()
    return true
  })
  return true
enddef

def Send(method: string, params: dict<any>, OnOk: func, OnErr: func(dict<any>): bool)
  add(sent, {method: method, params: params})
  if len(sent) > 200
    remove(sent, 0, 99)
  endif
  try
    ch_sendexpr(chan, {method: method, params: params}, {
      callback: (ch, msg) => OnResponse(method, msg, OnOk, OnErr)})
  catch
    ui.Error('Drover: could not send ' .. method .. ': ' .. v:exception)
  endtry
enddef

def OnResponse(method: string, msg: dict<any>, OnOk: func, OnErr: func(dict<any>): bool)
  if has_key(msg, 'error')
    var err = msg.error
    if OnErr != null_function && OnErr(err)
      return
    endif
    ui.Error(printf('Drover: %s failed: %s', method, get(err, 'message', string(err))))
    return
  endif
  OnOk(get(msg, 'result', v:null))
enddef

# Sends a request; OnOk(result) runs when it succeeds. OnErr(error), when
# given, runs on a JSON-RPC error and returns true if it handled it; else the
# error's message is shown. Starts (or restarts) the server if needed.
export def Request(method: string, params: dict<any>, OnOk: func, OnErr: func(dict<any>): bool = null_function)
  if !Ensure()
    return
  endif
  if state == 'starting' && method != 'initialize'
    add(waiting, [method, params, OnOk, OnErr])
    return
  endif
  Send(method, params, OnOk, OnErr)
enddef

def OnMessage(gen: number, msg: any)
  if gen != generation || type(msg) != v:t_dict || !has_key(msg, 'method')
    return
  endif
  Emit(msg.method, get(msg, 'params', {}))
enddef

def OnStderr(gen: number, line: string)
  if gen != generation
    return
  endif
  add(stderr_tail, line)
  if len(stderr_tail) > 5
    remove(stderr_tail, 0)
  endif
enddef

def OnExit(gen: number, status: number)
  if gen != generation || state == 'stopped'
    return
  endif
  state = 'dead'
  waiting = []
  var why = empty(stderr_tail) ? '' : ': ' .. join(stderr_tail, ' | ')
  ui.Error(printf('Drover: the server exited (status %d)%s. It restarts on the next Drover command.', status, why))
  Emit('$/dead', {status: status})
enddef

# Stops the server in order (shutdown, exit).
export def Stop()
  if job == null_job || state == 'stopped'
    state = 'stopped'
    return
  endif
  var was = state
  state = 'stopped'
  if was == 'ready' && ch_status(chan) == 'open'
    var j = job
    var c = chan
    ch_sendexpr(c, {method: 'shutdown', params: {}}, {callback: (ch, msg) => {
      if ch_status(c) == 'open'
        ch_sendexpr(c, {method: 'exit', params: {}})
      endif
    }})
    # If the server does not go in time, end it.
    timer_start(3000, (_) => {
      if job_status(j) == 'run'
        job_stop(j, 'term')
      endif
    })
  elseif job_status(job) == 'run'
    job_stop(job, 'term')
  endif
  Emit('$/dead', {status: 0})
enddef

# Vim is quitting: ask the server to stop its agents in order and go.
def Leave()
  if state == 'ready' && ch_status(chan) == 'open'
    state = 'stopped'
    ch_sendexpr(chan, {method: 'shutdown', params: {}}, {callback: (ch, msg) => 0})
    ch_sendexpr(chan, {method: 'exit', params: {}})
  endif
enddef

# The server's process id (for tests and :DroverDebug), or 0.
export def Pid(): number
  if job == null_job || job_status(job) != 'run'
    return 0
  endif
  return job_info(job).process
enddef
