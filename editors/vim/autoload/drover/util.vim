vim9script
# Small helpers: scratch buffers, writing to buffers that may be hidden, ages.

# Opens (or goes to) the scratch buffer `name`; returns its number.
export def Open(name: string, filetype: string, buftype: string = 'nofile'): number
  var nr = bufnr('^' .. name .. '$')
  if nr > 0 && bufwinid(nr) > 0
    win_gotoid(bufwinid(nr))
  else
    var cmd = get(g:, 'drover_open_cmd', 'split')
    if cmd == 'edit' && &modified && !&hidden
      cmd = 'split'
    endif
    if nr > 0
      execute 'silent keepalt ' .. (cmd == 'edit' ? 'buffer' : 'sbuffer') .. ' ' .. nr
    else
      execute 'silent keepalt ' .. cmd .. ' ' .. fnameescape(name)
    endif
  endif
  nr = bufnr('%')
  setlocal noswapfile bufhidden=hide nobuflisted nowrap
  execute 'setlocal buftype=' .. buftype
  execute 'setlocal filetype=' .. filetype
  return nr
enddef

export def LineCount(buf: number): number
  var info = getbufinfo(buf)
  return empty(info) ? 0 : info[0].linecount
enddef

# Replaces the whole text of `buf` (keeps it unmodifiable for the user).
export def SetLines(buf: number, lines: list<string>)
  if !bufexists(buf)
    return
  endif
  bufload(buf)
  var before = LineCount(buf)
  setbufvar(buf, '&modifiable', 1)
  setbufline(buf, 1, lines)
  if before > len(lines)
    silent deletebufline(buf, len(lines) + 1, '$')
  endif
  setbufvar(buf, '&modifiable', 0)
  setbufvar(buf, '&modified', 0)
enddef

# Appends lines; `replace_first` when the buffer holds only its initial empty line.
export def Append(buf: number, lines: list<string>, replace_first: bool)
  if !bufexists(buf) || empty(lines)
    return
  endif
  bufload(buf)
  var followers = filter(win_findbuf(buf), (_, w) => line('.', w) >= line('$', w))
  setbufvar(buf, '&modifiable', 1)
  if replace_first
    setbufline(buf, 1, lines)
  else
    appendbufline(buf, '$', lines)
  endif
  setbufvar(buf, '&modifiable', 0)
  setbufvar(buf, '&modified', 0)
  for w in followers
    win_execute(w, 'normal! G')
  endfor
enddef

# Seconds since the epoch of an ISO 8601 UTC timestamp (2025-01-31T12:00:00.123Z).
export def Epoch(iso: string): number
  var m = matchlist(iso, '\v^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)')
  if empty(m)
    return 0
  endif
  var y = str2nr(m[1])
  var mo = str2nr(m[2])
  var d = str2nr(m[3])
  # days from civil (Howard Hinnant)
  y -= mo <= 2 ? 1 : 0
  var era = (y >= 0 ? y : y - 399) / 400
  var yoe = y - era * 400
  var doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1
  var doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
  var days = era * 146097 + doe - 719468
  return days * 86400 + str2nr(m[4]) * 3600 + str2nr(m[5]) * 60 + str2nr(m[6])
enddef

export def Age(iso: string): string
  var secs = localtime() - Epoch(iso)
  if secs < 0
    secs = 0
  endif
  if secs < 60
    return secs .. 's'
  elseif secs < 3600
    return (secs / 60) .. 'm'
  elseif secs < 86400
    return (secs / 3600) .. 'h'
  endif
  return (secs / 86400) .. 'd'
enddef

export def FirstLine(text: string, width: number = 60): string
  var line = get(split(text, "\n"), 0, '')
  return strcharlen(line) > width ? strcharpart(line, 0, width - 1) .. '…' : line
enddef

# "2 child runs: 1 done, 1 running" for runs (or inbox children {runId, status}).
export def ChildrenSummary(children: list<dict<any>>): string
  var order = ['done', 'running', 'blocked', 'queued', 'paused', 'failed', 'cancelled']
  var counts: dict<number> = {}
  for child in children
    var status = get(child, 'status', 'unknown')
    counts[status] = get(counts, status, 0) + 1
    if index(order, status) < 0
      add(order, status)
    endif
  endfor
  var parts = mapnew(filter(copy(order), (_, st) => has_key(counts, st)), (_, st) => counts[st] .. ' ' .. st)
  return printf('%d child run%s: %s', len(children), len(children) == 1 ? '' : 's', join(parts, ', '))
enddef

# One review verdict (review.verdict data, or an approval's `review`) as a line, findings not included.
export def Verdict(v: dict<any>): string
  return printf('round %s: score %.2f (needs %.2f) %s', get(v, 'round', '?'), 0.0 + get(v, 'score', 0),
    0.0 + get(v, 'threshold', 0), get(v, 'passed', false) ? 'passed' : 'below the threshold')
enddef
