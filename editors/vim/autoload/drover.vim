" Drover for Vim: the legacy-named entry points (drover#status() for
" 'statusline'). Everything else lives in the Vim9 scripts autoload/drover/*.vim.

" 'set statusline+=%{drover#status()}' — empty until the server starts, then
" e.g. "Drover: 1 gate, 2 running". Never starts the server.
function! drover#status() abort
  return drover#core#Status()
endfunction
