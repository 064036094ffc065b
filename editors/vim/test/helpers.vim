vim9script
# Test helpers: waiting on conditions with a deadline (never a bare sleep as
# synchronisation), answering Vim's own popup menus, inputs and confirms with
# keys as a user types them, and reading the server back.

g:drover_open_cmd = 'edit'

# Waits until Cond() is true; fails the test after `ms` milliseconds.
def g:WaitFor(Cond: func(): bool, what: string, ms: number = 15000)
  var start = reltime()
  while !Cond()
    if reltimefloat(reltime(start)) * 1000 > ms
      throw 'timed out waiting for ' .. what
    endif
    sleep 10m
  endwhile
enddef

# The open popup_menu whose title matches `pat` (0 if none).
def g:MenuPopup(pat: string): number
  for id in popup_list()
    var opts = popup_getoptions(id)
    if get(opts, 'title', '') =~ pat && popup_getpos(id).visible
      return id
    endif
  endfor
  return 0
enddef

# Waits for the menu titled `pat`, moves to the item matching `item` and
# presses Enter; `after` is typed next (e.g. the answer to an input()).
def g:Pick(pat: string, item: string, after: string = '')
  g:WaitFor(() => g:MenuPopup(pat) > 0, 'a menu titled ' .. pat)
  var id = g:MenuPopup(pat)
  var lines = getbufline(winbufnr(id), 1, '$')
  var idx = match(lines, item)
  if idx < 0
    throw printf('no item %s in menu %s: %s', item, pat, string(lines))
  endif
  feedkeys(repeat('j', idx) .. "\<CR>" .. after, 'xt')
enddef

# confirm() answers its default without reading keys in -es mode, so tests
# answer it through the plugin's g:drover_ui.confirm seam: each question is
# recorded in g:confirm_asked and gets the next of `answers` (1-based button).
g:confirm_asked = []
def g:AnswerConfirm(answers: list<number>)
  var queue = copy(answers)
  g:confirm_asked = []
  g:drover_ui = {confirm: (msg: string, choices: string): number => {
    add(g:confirm_asked, msg)
    return empty(queue) ? 0 : remove(queue, 0)
  }}
enddef

def g:BufText(name: string): list<string>
  var nr = bufnr('^' .. name .. '$')
  return nr < 0 ? [] : getbufline(nr, 1, '$')
enddef

def g:BufHas(name: string, pat: string): bool
  return match(g:BufText(name), pat) >= 0
enddef

# A request/response done synchronously, for the test's own checks only
# (the plugin never blocks; tests may).
def g:Call(method: string, params: dict<any>): any
  var box: list<any> = []
  drover#rpc#Request(method, params, (r) => add(box, r), (e): bool => {
    add(box, {error: e})
    return true
  })
  g:WaitFor(() => !empty(box), 'the answer to ' .. method)
  return box[0]
enddef

def g:RunOf(runId: string): dict<any>
  return g:Call('run/get', {runId: runId}).run
enddef

def g:WaitStatus(runId: string, status: string)
  g:WaitFor(() => g:RunOf(runId).status == status, printf('run %s to be %s', runId, status))
enddef

def g:Messages(): string
  return join(drover#ui#History(), "\n")
enddef

# Writes a workspace pipeline using the fake driver.
def g:Pipeline(id: string, steps: list<dict<any>>)
  mkdir('.drover/pipelines', 'p')
  writefile([json_encode({name: id, description: 'test pipeline ' .. id, steps: steps})],
    '.drover/pipelines/' .. id .. '.json')
enddef

def g:FakeStep(id: string, script: list<any>, extra: dict<any> = {}): dict<any>
  return extend({id: id, kind: 'agent', role: 'r', prompt: 'p', agent: {driver: 'fake', script: script}}, extra)
enddef

# The newest run id the runs buffer or the server knows.
def g:NewestRun(): string
  var runs = g:Call('run/list', {limit: 1}).runs
  return empty(runs) ? '' : runs[0].id
enddef

def g:RunOne(name: string)
  v:errors = []
  var results = $DROVER_TEST_RESULTS
  try
    call(name, [])
  catch
    add(v:errors, v:exception .. ' @ ' .. v:throwpoint)
  endtry
  if drover#rpc#Pid() > 0
    writefile([string(drover#rpc#Pid())], $DROVER_TEST_PIDFILE)
  endif
  if empty(v:errors)
    writefile(['PASS ' .. name], results, 'a')
  else
    writefile(['FAIL ' .. name] + mapnew(v:errors, (_, e) => '    ' .. e)
      + ['    messages: ' .. substitute(g:Messages(), "\n", ' | ', 'g')], results, 'a')
  endif
  qa!
enddef

# Plays requests through a second `drover serve` of our own (NDJSON framing,
# one at a time) while the plugin is disconnected, then ends it and waits for
# it to exit. Returns the responses.
def g:OtherClient(requests: list<dict<any>>): list<any>
  var lines: list<string> = []
  var exited: list<number> = []
  var job = job_start([$DROVER_BIN, 'serve'], {mode: 'nl', err_io: 'null',
    out_cb: (_, l) => add(lines, l), exit_cb: (_, st) => add(exited, st)})
  var responses: list<any> = []
  var id = 0
  for req in [{method: 'initialize', params: {workspace: getcwd()}}] + requests
    id += 1
    ch_sendraw(job, json_encode(extend({jsonrpc: '2.0', id: id}, req)) .. "\n")
    var want = id
    g:WaitFor(() => !empty(filter(copy(lines), (_, l) => get(json_decode(l), 'id', 0) == want)), 'the other client''s answer to ' .. req.method)
    add(responses, json_decode(filter(copy(lines), (_, l) => get(json_decode(l), 'id', 0) == want)[0]))
  endfor
  ch_close_in(job)
  g:WaitFor(() => !empty(exited), 'the other server to exit')
  return responses[1 :]
enddef
