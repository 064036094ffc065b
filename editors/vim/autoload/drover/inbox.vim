vim9script
# drover://inbox — the open gates of every run, and how each is answered.

import autoload 'drover/rpc.vim'
import autoload 'drover/ui.vim'
import autoload 'drover/util.vim'

const NAME = 'drover://inbox'
var timer = 0

export def Wire()
enddef

export def Open()
  var buf = util.Open(NAME, 'drover-inbox')
  nnoremap <buffer> <silent> <CR> <ScriptCmd>Act(ItemAtCursor())<CR>
  nnoremap <buffer> <silent> a <ScriptCmd>Approve(ItemAtCursor(), v:none)<CR>
  nnoremap <buffer> <silent> c <ScriptCmd>RequestChanges(ItemAtCursor())<CR>
  nnoremap <buffer> <silent> x <ScriptCmd>Reject(ItemAtCursor())<CR>
  nnoremap <buffer> <silent> e <ScriptCmd>Edit(ItemAtCursor())<CR>
  nnoremap <buffer> <silent> R <ScriptCmd>Refresh()<CR>
  nnoremap <buffer> <silent> q <Cmd>close<CR>
  if util.LineCount(buf) <= 1 && getbufline(buf, 1)[0] == ''
    util.SetLines(buf, ['Loading the inbox…'])
  endif
  Refresh()
enddef

export def Schedule()
  if bufexists(NAME) && timer == 0
    timer = timer_start(100, (_) => {
      timer = 0
      Refresh()
    })
  endif
enddef

export def Refresh()
  if !bufexists(NAME)
    return
  endif
  rpc.Request('inbox/list', {}, (r) => Render(get(r, 'items', [])))
enddef

# Shows `items` (InboxItem[]) in the inbox buffer.
export def Render(items: list<dict<any>>)
  var buf = bufnr('^' .. NAME .. '$')
  if buf < 0
    return
  endif
  var lines = [
    printf('Drover inbox — %d open gate%s', len(items), len(items) == 1 ? '' : 's'),
    '<CR> answer (or open the child runs) · a approve · c request changes · x reject · e edit then :w to approve · R refresh · q close',
    '',
  ]
  var by_line: dict<dict<any>> = {}
  if empty(items)
    add(lines, 'Nothing waits for you.')
  endif
  for item in items
    add(lines, printf('%-26s %-10s %-9s %s', get(item, 'runId', '?'), get(item, 'stepId', ''), get(item, 'kind', '?'), What(item)))
    by_line[string(len(lines))] = item
  endfor
  setbufvar(buf, 'drover_items', by_line)
  util.SetLines(buf, lines)
enddef

# What an item asks: a decision's question, an approval's proposal (and the review that graded it),
# the child runs a parent waits on; for a kind this plugin does not know, its id.
def What(item: dict<any>): string
  var kind = get(item, 'kind', '')
  if kind == 'decision'
    return printf('%s [%s]', get(item, 'question', ''), join(get(item, 'options', []), '/'))
  elseif kind == 'approval'
    return util.FirstLine(get(item, 'proposal', ''), 70) ..
      (has_key(item, 'review') ? '   [review ' .. util.Verdict(item.review) .. ']' : '')
  elseif kind == 'children'
    return 'waiting on ' .. util.ChildrenSummary(get(item, 'children', [])) .. '   (<CR> opens them)'
  endif
  var id = get(item, 'id', '')
  return type(id) == v:t_string ? id : string(id)
enddef

def ItemAtCursor(): dict<any>
  return get(get(b:, 'drover_items', {}), string(line('.')), {})
enddef

def Done(what: string, runId: string, stepId: string): func
  return (r) => {
    ui.Info(printf('Drover: %s (%s, %s) — run is %s', what, runId, stepId, r.run.status))
    Refresh()
  }
enddef

# <CR>: a decision asks for its choice; an approval for what to do.
export def Act(item: dict<any>)
  if empty(item)
    ui.Info('Drover: no gate on this line')
    return
  endif
  var kind = get(item, 'kind', '')
  if kind == 'decision'
    Decide(item)
    return
  elseif kind == 'children'
    OpenChildren(get(item, 'children', []))
    return
  elseif kind != 'approval'
    ui.Info(printf('Drover: run %s waits on a %s item, which this plugin cannot answer', get(item, 'runId', '?'), kind))
    return
  endif
  var actions = ['Approve', 'Request changes…', 'Reject…', 'Edit the proposal, then :w to approve']
  ui.Select(printf('%s · %s: approval', item.runId, item.stepId), actions, (idx) => {
    if idx == 1
      Approve(item, v:none)
    elseif idx == 2
      RequestChanges(item)
    elseif idx == 3
      Reject(item)
    elseif idx == 4
      Edit(item)
    endif
  })
enddef

# Opens a child run a parent waits on: the only one, else the one picked.
def OpenChildren(children: list<dict<any>>)
  if empty(children)
    ui.Info('Drover: no child runs yet')
    return
  elseif len(children) == 1
    drover#core#OpenRun(children[0].runId)
    return
  endif
  var items = mapnew(children, (_, c) => printf('%s  %s  %s', c.runId, get(c, 'status', '?'), util.FirstLine(get(c, 'task', ''), 60)))
  ui.Select('Open which child run?', items, (idx) => {
    if idx >= 1 && idx <= len(children)
      drover#core#OpenRun(children[idx - 1].runId)
    endif
  })
enddef

export def Decide(item: dict<any>)
  var options = get(item, 'options', [])
  ui.Select(get(item, 'question', 'Choose'), options, (idx) => {
    if idx < 1 || idx > len(options)
      return
    endif
    var choice = options[idx - 1]
    rpc.Request('decision/resolve', {runId: item.runId, decisionId: item.id, choice: choice},
      Done('answered "' .. choice .. '"', item.runId, item.stepId))
  })
enddef

def IsApproval(item: dict<any>): bool
  if empty(item) || get(item, 'kind', '') != 'approval'
    ui.Info('Drover: put the cursor on an approval' .. (empty(item) ? '' : ' (this is a ' .. get(item, 'kind', '?') .. ' item)'))
    return false
  endif
  return true
enddef

# `proposal` is the edited text, or v:none to approve the proposal as it is.
export def Approve(item: dict<any>, proposal: any, After: func = null_function)
  if !IsApproval(item)
    return
  endif
  var params: dict<any> = {runId: item.runId, approvalId: item.id}
  if type(proposal) == v:t_string
    params.proposal = proposal
  endif
  var Report = Done(type(proposal) == v:t_string ? 'approved with your edits' : 'approved', item.runId, item.stepId)
  rpc.Request('step/approve', params, (r) => {
    Report(r)
    if After != null_function
      After()
    endif
  })
enddef

export def RequestChanges(item: dict<any>)
  if !IsApproval(item)
    return
  endif
  var feedback = ui.Input(printf('Changes wanted from %s (empty to cancel): ', item.stepId))
  if empty(trim(feedback))
    ui.Info('Drover: no feedback given, nothing sent')
    return
  endif
  rpc.Request('step/requestChanges', {runId: item.runId, approvalId: item.id, feedback: feedback},
    Done('changes requested', item.runId, item.stepId))
enddef

export def Reject(item: dict<any>)
  if !IsApproval(item)
    return
  endif
  if ui.Confirm(printf('Reject the proposal of %s? Run %s fails (it can be retried).', item.stepId, item.runId),
      "&Reject\n&Cancel", 2) != 1
    return
  endif
  var reason = ui.Input('Reason (optional): ')
  var params: dict<any> = {runId: item.runId, approvalId: item.id}
  if !empty(trim(reason))
    params.reason = reason
  endif
  rpc.Request('step/reject', params, Done('rejected', item.runId, item.stepId))
enddef

# A scratch buffer holding the proposal; :w approves its text.
export def Edit(item: dict<any>)
  if !IsApproval(item)
    return
  endif
  var name = printf('drover://proposal/%s/%s', item.runId, item.id)
  var buf = util.Open(name, 'markdown', 'acwrite')
  b:drover_item = item
  setlocal modifiable bufhidden=wipe
  if !get(b:, 'drover_loaded', false)
    silent deletebufline(buf, 1, '$')
    setbufline(buf, 1, split(get(item, 'proposal', ''), "\n", true))
    b:drover_loaded = true
    setlocal nomodified
  endif
  augroup drover_proposal
    execute printf('autocmd! BufWriteCmd <buffer=%d> WriteProposal(%d)', buf, buf)
  augroup END
  ui.Info(printf('Drover: edit the proposal of %s, then :w to approve it (or :q! to leave it)', item.stepId))
enddef

def WriteProposal(buf: number)
  var item = getbufvar(buf, 'drover_item')
  var text = join(getbufline(buf, 1, '$'), "\n")
  Approve(item, text, () => {
    if bufexists(buf)
      setbufvar(buf, '&modified', 0)
      setbufvar(buf, '&modifiable', 0)
    endif
  })
enddef
