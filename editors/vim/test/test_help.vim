vim9script
# The help file: its tags build without duplicates and every command has one.

def g:Test_help_tags()
  var doc = fnamemodify(globpath(&rtp, 'doc/drover.txt'), ':h')
  var copy = tempname()
  mkdir(copy, 'p')
  writefile(readfile(doc .. '/drover.txt'), copy .. '/drover.txt')
  execute 'helptags ' .. fnameescape(copy)
  var tags = map(readfile(copy .. '/tags'), (_, l) => split(l, "\t")[0])
  for cmd in getcompletion('Drover', 'command')
    assert_true(index(tags, ':' .. cmd) >= 0, 'no help tag for :' .. cmd)
  endfor
  for t in ['drover#status()', 'g:drover_bin', 'drover-inbox-buffer', 'drover-log-buffer']
    assert_true(index(tags, t) >= 0, 'no help tag ' .. t)
  endfor
enddef

# :DroverMessages repeats what the plugin said.
def g:Test_messages_command()
  DroverRun nope x
  g:WaitFor(() => g:Messages() =~ 'run/start failed', 'the error')
  assert_match('run/start failed', execute('DroverMessages'))
enddef
