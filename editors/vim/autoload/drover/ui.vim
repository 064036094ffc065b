vim9script
# How the plugin asks and tells the user. Each question can be answered by a
# function of your own: set g:drover_ui = {select: F, input: F, confirm: F,
# notify: F} (any subset), e.g. to use another picker.

# The messages shown, newest last (see :DroverMessages).
var history: list<string> = []

def Hook(name: string): any
  var hooks = get(g:, 'drover_ui', {})
  return type(hooks) == v:t_dict ? get(hooks, name, v:none) : v:none
enddef

def Remember(msg: string)
  add(history, msg)
  if len(history) > 200
    remove(history, 0, 99)
  endif
enddef

export def History(): list<string>
  return history
enddef

# Lets the user pick one of `items`; Done(index) gets the 1-based index, or
# -1 when cancelled. A popup_menu by default.
export def Select(title: string, items: list<string>, Done: func(number))
  var H = Hook('select')
  if type(H) == v:t_func
    Done(H(title, items))
    return
  endif
  popup_menu(items, {
    title: ' ' .. title .. ' ',
    callback: (id, result) => Done(result),
    padding: [0, 1, 0, 1],
    maxheight: 15,
  })
enddef

export def Input(prompt: string, default: string = ''): string
  var H = Hook('input')
  if type(H) == v:t_func
    return H(prompt, default)
  endif
  return input(prompt, default)
enddef

export def Confirm(msg: string, choices: string, default: number = 1): number
  var H = Hook('confirm')
  if type(H) == v:t_func
    return H(msg, choices)
  endif
  return confirm(msg, choices, default)
enddef

# Something the user should notice now (a gate opened): a popup and :messages.
export def Notify(msg: string)
  Remember(msg)
  var H = Hook('notify')
  if type(H) == v:t_func
    H(msg)
    return
  endif
  if get(g:, 'drover_notify_popup', 1)
    popup_notification(msg, {time: 5000, highlight: 'WarningMsg'})
  endif
  echomsg msg
enddef

export def Info(msg: string)
  Remember(msg)
  echomsg msg
enddef

export def Error(msg: string)
  Remember(msg)
  echohl ErrorMsg
  echomsg msg
  echohl None
enddef
