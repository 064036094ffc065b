vim9script
# Drover: run AI-agent pipelines from Vim and answer their gates.
# Nothing loads until a command is used (see autoload/drover/).

if exists('g:loaded_drover') || v:version < 900 || !has('channel') || !has('job')
  finish
endif
g:loaded_drover = 1

command! -range -nargs=* DroverRun call drover#core#Run(<range>, <line1>, <line2>, <q-args>)
command! -nargs=0 DroverRuns call drover#core#Runs()
command! -nargs=0 DroverInbox call drover#core#Inbox()
command! -nargs=* DroverLog call drover#core#Log(<q-args>)
command! -nargs=* DroverDiff call drover#core#Diff(<q-args>)
command! -nargs=* DroverApply call drover#core#Apply(<q-args>)
command! -nargs=0 DroverTrust call drover#core#Trust()
command! -nargs=0 DroverStop call drover#core#Stop()
command! -nargs=0 DroverMessages for m in drover#ui#History() | echomsg m | endfor
