vim9script
# Starting runs and watching them: :DroverRun, :DroverRuns, run buffers.

# The demo started with :DroverRun: pipeline from the popup menu, task typed
# at the input() prompt; the run buffer follows it live to its decision.
def g:Test_run_demo_from_menu()
  DroverRun
  g:Pick('Drover: pipeline', '^demo ', "Add a --verbose flag\<CR>")
  g:WaitFor(() => !empty(g:NewestRun()), 'a run to start')
  var runId = g:NewestRun()
  var run = g:RunOf(runId)
  assert_equal('demo', run.pipelineId)
  assert_equal('Add a --verbose flag', run.task)
  # the run buffer opened and shows the decision live
  var name = 'drover://run/' .. runId
  g:WaitFor(() => g:BufHas(name, 'decision.requested'), 'the run buffer to show the decision')
  assert_equal(name, bufname('%'))
  # the header follows the run's own fetch (run/get), which comes after the event's line
  g:WaitFor(() => g:BufText(name)[0] =~ 'BLOCKED', 'the run buffer header to say BLOCKED')
  assert_true(g:BufHas(name, 'plan .*waiting.*asks: How thorough should the plan be? \[quick/thorough\]'))
  # the user was told about the gate
  assert_match('step plan asks: How thorough', g:Messages())
  g:WaitFor(() => drover#status() == 'Drover: 1 gate', 'the status to count the gate')
enddef

# A task from the visual selection (a range) and the pipeline as an argument.
def g:Test_run_with_range_and_args()
  setline(1, ['Fix the parser', 'and its tests'])
  :1,2DroverRun demo
  g:WaitFor(() => !empty(g:NewestRun()), 'a run to start')
  assert_equal("Fix the parser\nand its tests", g:RunOf(g:NewestRun()).task)
enddef

# Cancelling the menu or giving no task starts nothing.
def g:Test_run_cancelled_starts_nothing()
  DroverRun
  g:Pick('Drover: pipeline', '^demo ', "\<CR>")
  g:WaitFor(() => g:Messages() =~ 'no task given', 'the no-task message')
  assert_equal('', g:NewestRun())
enddef
