vim9script
# What a run changed (run/diff) and bringing it onto the user's branch
# (run/apply). Offered only when the server lists those methods.

import autoload 'drover/rpc.vim'
import autoload 'drover/ui.vim'
import autoload 'drover/util.vim'

const LETTER = {added: 'A', modified: 'M', deleted: 'D', renamed: 'R'}
export const STRATEGIES = [
  ['merge', "merge — git merge --no-ff of the run's branch; its step commits stay in your history"],
  ['squash', 'squash — one commit on your branch with the whole change'],
  ['patch', 'patch — write the change into your working tree, without committing'],
]

# Runs Fn once the server is ready (its capabilities known).
def WhenReady(key: string, Fn: func())
  if rpc.State() == 'ready'
    Fn()
    return
  endif
  rpc.On('$/ready', key, (_) => {
    rpc.Off('$/ready', key)
    Fn()
  })
enddef

def Short(sha: any): string
  return type(sha) == v:t_string ? sha[: 6] : '?'
enddef

# The lines of a diff buffer, and the index in result.files of each file line.
export def Render(runId: string, stepId: string, result: dict<any>): list<any>
  var files = get(result, 'files', [])
  var adds = 0
  var dels = 0
  for f in files
    adds += get(f, 'additions', 0)
    dels += get(f, 'deletions', 0)
  endfor
  var keys = ['<CR> patch of the file', 'P whole patch']
  if rpc.Has('run/apply')
    add(keys, 'A apply')
  endif
  extend(keys, ['R refresh', 'q close'])
  var lines = [
    printf('Diff of run %s%s  %s..%s  %d file%s, +%d -%d', runId, empty(stepId) ? '' : ', step ' .. stepId,
      Short(get(result, 'from', v:null)), Short(get(result, 'to', v:null)), len(files), len(files) == 1 ? '' : 's', adds, dels),
    'Keys: ' .. join(keys, ' · '),
    '',
  ]
  var at: dict<number> = {}
  if empty(files)
    add(lines, empty(stepId) ? 'No changes: the run committed nothing yet.' : 'This step committed nothing.')
  endif
  var i = 0
  for f in files
    var name = f.path
    if !empty(get(f, 'oldPath', '')) && f.oldPath != f.path
      name ..= ' ← ' .. f.oldPath
    endif
    var counts = get(f, 'binary', false) ? 'binary' : printf('+%d -%d', get(f, 'additions', 0), get(f, 'deletions', 0))
    add(lines, printf('%s %-9s %s  %s', get(LETTER, f.status, '?'), f.status, name, counts))
    at[string(len(lines))] = i
    i += 1
  endfor
  return [lines, at]
enddef

# :DroverDiff — the diff buffer of a run (or of one of its steps).
export def Open(runId: string, stepId: string = '')
  WhenReady('diff-open', () => {
    if !rpc.Has('run/diff')
      ui.Error('Drover: this server does not offer run/diff; diffs need a newer drover')
      return
    endif
    var name = 'drover://diff/' .. runId .. (empty(stepId) ? '' : '/step/' .. stepId)
    var buf = util.Open(name, 'drover-diff')
    b:drover_run_id = runId
    b:drover_diff_step = stepId
    nnoremap <buffer> <silent> <CR> <ScriptCmd>PatchAtCursor()<CR>
    nnoremap <buffer> <silent> P <ScriptCmd>WholePatch()<CR>
    nnoremap <buffer> <silent> A <ScriptCmd>Apply(b:drover_run_id)<CR>
    nnoremap <buffer> <silent> R <ScriptCmd>Open(b:drover_run_id, b:drover_diff_step)<CR>
    nnoremap <buffer> <silent> q <Cmd>close<CR>
    if !exists('b:drover_diff')
      util.SetLines(buf, ['Diff of run ' .. runId .. ' (loading…)'])
    endif
    var params: dict<any> = {runId: runId}
    if !empty(stepId)
      params.stepId = stepId
    endif
    rpc.Request('run/diff', params, (r) => {
      var [lines, at] = Render(runId, stepId, r)
      setbufvar(buf, 'drover_diff', r)
      setbufvar(buf, 'drover_diff_lines', at)
      util.SetLines(buf, lines)
    })
  })
enddef

# Shows `text` in the read-only `diff` buffer `name`.
def ShowPatch(name: string, text: string)
  var buf = util.Open(name, 'diff')
  util.SetLines(buf, text == '' ? ['(empty patch)'] : split(substitute(text, '\n$', '', ''), "\n", true))
enddef

def PatchAtCursor()
  var idx = get(get(b:, 'drover_diff_lines', {}), string(line('.')), -1)
  if idx < 0
    ui.Info('Drover: no file on this line')
    return
  endif
  var f = b:drover_diff.files[idx]
  ShowPatch(bufname('%') .. '/' .. f.path, get(f, 'patch', ''))
enddef

def WholePatch()
  if !exists('b:drover_diff')
    return
  endif
  ShowPatch(bufname('%') .. '/patch', get(b:drover_diff, 'patch', ''))
enddef

# A refused apply (-33002): the server's message, the files named and put in
# the quickfix list.
def ShowRefusal(runId: string, err: dict<any>)
  var data = type(get(err, 'data', v:null)) == v:t_dict ? err.data : {}
  var files = type(get(data, 'files', v:null)) == v:t_list ? data.files : []
  var reason = get(data, 'reason', 'refused')
  var msg = 'Drover: apply refused: ' .. get(err, 'message', 'run ' .. runId .. ' was not applied')
  if !empty(files)
    var ws = rpc.Workspace()
    setqflist([], ' ', {title: printf('Drover: run %s not applied (%s)', runId, reason),
      items: mapnew(files, (_, f) => ({filename: ws .. '/' .. f, lnum: 1,
        text: reason == 'uncommitted' ? 'uncommitted change (the run changed this file too)' : reason}))})
    msg ..= ' — files: ' .. join(files, ', ') .. ' (in the quickfix list, :copen)'
  endif
  ui.Error(msg)
enddef

def Send(runId: string, strategy: string, Done: func(dict<any>))
  rpc.Request('run/apply', {runId: runId, strategy: strategy}, (r) => {
    var applied = get(get(r.run, 'workspace', {}), 'applied', {})
    ui.Info(printf('Drover: applied run %s (%s%s%s)', runId, get(applied, 'strategy', strategy),
      has_key(applied, 'into') ? ' into ' .. applied.into : '',
      has_key(applied, 'commit') ? ', commit ' .. applied.commit[: 6] : ''))
    if Done != null_function
      Done(r.run)
    endif
  }, (err): bool => {
    if get(err, 'code', 0) == -33002
      ShowRefusal(runId, err)
      return true
    endif
    return false
  })
enddef

def Confirmed(runId: string, strategy: string, Done: func(dict<any>))
  var q = printf('Apply run %s to your branch in %s with %s?', runId, rpc.Workspace(), strategy)
  if ui.Confirm(q, "&Apply\n&Keep it", 2) != 1
    ui.Info('Drover: run ' .. runId .. ' not applied')
    return
  endif
  Send(runId, strategy, Done)
enddef

# :DroverApply — asks the strategy (unless given) and a confirmation, then
# calls run/apply. Done(run) after it was applied.
export def Apply(runId: string, strategy: string = '', Done: func(dict<any>) = null_function)
  WhenReady('diff-apply', () => {
    if !rpc.Has('run/apply')
      ui.Error('Drover: this server does not offer run/apply')
      return
    endif
    if empty(runId)
      ui.Info('Drover: no run on this line')
      return
    endif
    if !empty(strategy)
      Confirmed(runId, strategy, Done)
      return
    endif
    ui.Select('Apply run ' .. runId .. ' how?', mapnew(STRATEGIES, (_, s) => s[1]), (idx) => {
      if idx >= 1 && idx <= len(STRATEGIES)
        Confirmed(runId, STRATEGIES[idx - 1][0], Done)
      endif
    })
  })
enddef
