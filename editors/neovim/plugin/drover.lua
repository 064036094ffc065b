-- drover.nvim entry point: defines :Drover; nothing starts until a command is used.
if vim.g.loaded_drover then
  return
end
vim.g.loaded_drover = true

vim.api.nvim_create_user_command("Drover", function(opts)
  require("drover.commands").dispatch(opts)
end, {
  nargs = "*",
  range = true,
  complete = function(arglead, cmdline)
    return require("drover.commands").complete(arglead, cmdline)
  end,
  desc = "Drover: run pipelines, answer gates, follow logs (:help drover)",
})

vim.api.nvim_create_autocmd("VimLeavePre", {
  group = vim.api.nvim_create_augroup("drover", { clear = true }),
  callback = function()
    if package.loaded["drover"] then
      require("drover").stop()
    end
  end,
})
