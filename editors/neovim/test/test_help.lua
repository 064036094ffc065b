-- The help file: :help drover works, the committed tags are up to date, links resolve.
local H = _G.H

local plugin = vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":p:h:h")

H.test(":help drover opens the help; doc/tags is what :helptags generates; every |link| resolves", function()
  H.fresh()
  local copy = vim.fn.tempname()
  vim.fn.mkdir(copy, "p")
  vim.fn.writefile(vim.fn.readfile(plugin .. "/doc/drover.txt"), copy .. "/drover.txt")
  vim.cmd("helptags " .. vim.fn.fnameescape(copy))
  H.eq(vim.fn.readfile(copy .. "/tags"), vim.fn.readfile(plugin .. "/doc/tags"),
    "doc/tags is stale: run `nvim --headless -u NONE -c 'helptags editors/neovim/doc' -c q`")
  for _, subject in ipairs({ "drover", ":Drover", ":Drover-inbox", "drover.status()", "drover-logs" }) do
    vim.cmd("help " .. subject)
    H.eq("drover.txt", vim.fn.expand("%:t"), ":help " .. subject)
    vim.cmd("helpclose")
  end
  local text = table.concat(vim.fn.readfile(plugin .. "/doc/drover.txt"), "\n")
  for link in text:gmatch("|([^|%s]+)|") do
    local ok = pcall(vim.cmd, "help " .. link)
    H.truthy(ok, "|" .. link .. "| resolves")
    vim.cmd("silent! helpclose")
  end
end)
