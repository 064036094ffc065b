'use strict';
// The built-in demo pipeline end to end, the way a user drives it: Run Pipeline (QuickPick of
// pipelines, InputBox for the task), the Runs and Inbox trees following run/event, the decision
// answered from the Inbox, the approval approved from the message's button, the status bar.

const test = require('node:test');
const assert = require('node:assert/strict');
const { activate, run, waitFor, serverRun, startPipeline } = require('./helpers');

test('Run Pipeline lists pipelines with descriptions and starts the demo with the typed task', async (t) => {
  const { drover, ui, close } = await activate();
  t.after(close);
  const done = run('drover.runPipeline');
  const pick = await ui.nextPrompt('quickPick');
  const demo = pick.items.find((item) => item.label === 'Demo (fake agents)');
  assert.ok(demo, `demo among ${JSON.stringify(pick.labels())}`);
  assert.match(demo.detail, /decision and an approval/);
  assert.match(demo.description, /^demo · builtin/);
  pick.pick('Demo (fake agents)');
  const box = await ui.nextPrompt('inputBox');
  assert.equal(box.options.validateInput('   '), 'The task must not be blank');
  box.type('Add a --verbose flag');
  const started = await done;
  assert.ok(started && started.id, 'run/start answered with a run');

  const back = await serverRun(drover, started.id);
  assert.equal(back.pipelineId, 'demo');
  assert.equal(back.task, 'Add a --verbose flag');
  assert.ok(ui.messages('info').some((m) => m.includes(`started demo as ${started.id}`)));
});

test('Runs and Inbox trees follow run/event live; the decision is answered from the Inbox', async (t) => {
  const { drover, ui, close } = await activate();
  t.after(close);
  const started = await startPipeline(ui, 'Demo (fake agents)', 'Add a --verbose flag');

  // The decision opens: the run shows blocked at plan, its step waits, the Inbox lists the question.
  const runs = await waitFor(async () => {
    const tree = await ui.renderTree('drover.runs');
    return tree.text.includes('blocked') && tree.text.includes('plan — waiting') ? tree : undefined;
  }, 'the run to block on its decision');
  assert.match(runs.text, /^demo: Add a --verbose flag — blocked · plan \[run\.blocked\]$/m);
  assert.match(runs.text, /^ {2}plan — waiting · decision \[step\.waiting\.decision\]$/m);
  assert.match(runs.text, /^ {2}impl — pending \[step\.pending\]$/m);
  const inbox = await ui.renderTree('drover.inbox');
  assert.equal(inbox.items.length, 1);
  assert.equal(inbox.items[0].item.label, 'How thorough should the plan be?');
  assert.equal(inbox.items[0].item.contextValue, 'gate.decision');
  assert.equal(inbox.items[0].item.command.command, 'drover.answerDecision');
  await waitFor(() => ui.state.statusItems[0].text.includes('1 gate'), 'the status bar to count the gate');
  assert.match(ui.state.statusItems[0].text, /Drover: 1 live · 1 gate$/);
  assert.equal(ui.state.statusItems[0].command, 'drover.openInbox');
  assert.ok(ui.messages('info').some((m) => m.includes('plan of') && m.includes('asks: How thorough')),
    'an information message announces the decision');

  // Clicking the inbox item runs its command with the node: the options come in a QuickPick.
  const item = inbox.items[0].item;
  const answered = run(item.command.command, ...item.command.arguments);
  const options = await ui.nextPrompt('quickPick');
  assert.deepEqual(options.labels(), ['quick', 'thorough']);
  options.pick('thorough');
  await answered;

  const back = await serverRun(drover, started.id);
  assert.equal(back.steps[0].decision.chosen, 'thorough');
  // The approval opens next; the Inbox replaces the decision with it, live.
  const approvalInbox = await waitFor(async () => {
    const tree = await ui.renderTree('drover.inbox');
    return tree.items.length === 1 && tree.items[0].item.contextValue === 'gate.approval' ? tree : undefined;
  }, 'the approval to reach the inbox');
  assert.match(approvalInbox.items[0].item.label, /^Approve impl: Implemented \(fake agent/);

  // Approve from the message's button.
  const message = await ui.nextPrompt('info', (p) => p.message.includes('waits for approval'));
  assert.deepEqual(message.items, ['Approve', 'Review…', 'Open Inbox']);
  message.click('Approve');
  await waitFor(async () => (await serverRun(drover, started.id)).status === 'done', 'the run to finish');
  const finished = await waitFor(async () => {
    const tree = await ui.renderTree('drover.runs');
    return tree.text.includes('— done [run.done]') ? tree : undefined;
  }, 'the Runs view to show the run done');
  assert.match(finished.text, /^ {2}report — done \[step\.done\]$/m);
  assert.equal((await ui.renderTree('drover.inbox')).items.length, 0);
  await waitFor(() => /Drover: 0 live · 0 gates$/.test(ui.state.statusItems[0].text), 'the status bar to clear');
  assert.equal((await serverRun(drover, started.id)).steps[1].approval.status, 'approved');
});

test('Run Pipeline prefills the task from the editor selection; Esc on the task starts nothing', async (t) => {
  const { drover, ui, close } = await activate();
  t.after(close);
  ui.state.activeTextEditor = {
    document: { uri: { toString: () => 'file:///x.txt' }, getText: (range) => (range ? 'Rename foo to bar' : 'whole file') },
    selection: { isEmpty: false },
  };
  const done = run('drover.runPipeline');
  (await ui.nextPrompt('quickPick')).pick('Demo (fake agents)');
  const box = await ui.nextPrompt('inputBox');
  assert.equal(box.options.value, 'Rename foo to bar');
  box.answer(undefined); // Esc
  assert.equal(await done, undefined);
  assert.deepEqual((await drover.request('run/list', {})).runs, []);
});
