'use strict';
// What the user sees when things go wrong: a missing binary, a server that dies (and the
// catch-up after it restarts), an error answered by the server, a method the server lacks.

const test = require('node:test');
const assert = require('node:assert/strict');
const { activate, run, waitFor, serverRun, startPipeline, fake, DROVER_BIN, isAlive } = require('./helpers');
const { rawClient } = require('./raw-client');

/** Records every request the extension sends from now on (method, params). */
function spy(drover) {
  const sent = [];
  const original = drover.request.bind(drover);
  drover.request = (method, params) => { sent.push([method, params]); return original(method, params); };
  return sent;
}

test('a missing binary gives one clear message with Open Settings, no stack; fixing drover.path recovers', async (t) => {
  const { drover, ui, close } = await activate({ droverPath: '/nonexistent/bin/drover', waitConnected: false });
  t.after(close);
  const shown = await ui.nextPrompt('error');
  assert.equal(shown.message, 'Drover: cannot start the Drover server: \'/nonexistent/bin/drover\' was not found. ' +
    'Install drover or set the "drover.path" setting to its full path.');
  assert.doesNotMatch(shown.message, /\n\s+at /, 'no stack trace');
  assert.deepEqual(shown.items, ['Open Settings']);
  shown.click('Open Settings');
  await waitFor(() => ui.state.executed.some(([id, args]) => id === 'workbench.action.openSettings' && args[0] === 'drover.path'),
    'the settings to open at drover.path');

  // A command says the same thing instead of prompting.
  await run('drover.runPipeline');
  assert.equal(ui.messages('error').length, 2);
  assert.equal(ui.messages('error')[1], shown.message);
  assert.equal(ui.state.prompts.filter((p) => p.kind === 'quickPick').length, 0);
  assert.match(ui.state.statusItems[0].text, /Drover/);

  fake.setConfig('drover', 'path', DROVER_BIN);
  const started = await startPipeline(ui, 'Demo (fake agents)', 'after fixing the path');
  assert.equal((await serverRun(drover, started.id)).task, 'after fixing the path');
});

test('a server that dies: warned once, the next command restarts it and catches up with run/events', async (t) => {
  const { drover, ui, ws, close } = await activate();
  t.after(close);
  const started = await startPipeline(ui, 'Demo (fake agents)', 'survive a crash');
  const decision = await waitFor(() => drover.model.inbox().find((g) => g.kind === 'decision'), 'the decision');
  const seqBefore = drover.model.get(started.id).lastSeq;

  const firstPid = drover.connection.pid;
  process.kill(firstPid, 'SIGKILL');
  const warning = await ui.nextPrompt('warning', (p) => p.message.includes('exited unexpectedly'));
  assert.equal(warning.message.split('.')[0] + '.', 'Drover: the server exited unexpectedly (signal SIGKILL).');
  assert.match(warning.message, /The next Drover command restarts it/);
  assert.deepEqual(warning.items, ['Restart Now', 'Show Server Log']);
  await waitFor(() => ui.state.context.get('drover.connected') === false, 'the connected context to clear');
  assert.match(ui.state.statusItems[0].text, /disconnected/);
  assert.equal(ui.state.statusItems[0].command, 'drover.restartServer');
  await waitFor(() => !isAlive(firstPid), 'the old server to be gone');

  // Meanwhile another client answers the decision in the same workspace.
  const other = rawClient(DROVER_BIN, ws);
  await other.request('initialize', { workspace: ws, capabilities: { logs: false } });
  const approvalRequested = other.notification((m) => m.method === 'run/event' && m.params.type === 'approval.requested');
  await other.request('decision/resolve', { runId: started.id, decisionId: decision.id, choice: 'thorough' });
  await approvalRequested;
  await other.close();
  assert.equal(drover.model.get(started.id).lastSeq, seqBefore, 'the extension missed those events');

  // The next command restarts the server; the catch-up shows the answered decision and the approval.
  const approving = run('drover.approve');
  const pick = await ui.nextPrompt('quickPick', (p) => p.options.placeHolder === 'Which approval?');
  assert.notEqual(drover.connection.pid, firstPid);
  const held = drover.model.get(started.id);
  assert.equal(held.steps[0].decision.chosen, 'thorough');
  assert.equal(held.lastSeq, (await serverRun(drover, started.id)).lastSeq, 'caught up to the server');
  const runs = await ui.renderTree('drover.runs');
  assert.match(runs.text, /^ {2}plan — done · attempt 2 \[step\.done\]$/m);
  assert.match(runs.text, /^ {2}impl — waiting · approval \[step\.waiting\.approval\]$/m);
  pick.answer(pick.items[0]);
  await approving;
  await waitFor(async () => (await serverRun(drover, started.id)).status === 'done', 'the run to finish');
  assert.equal(ui.messages('warning').filter((m) => m.includes('exited unexpectedly')).length, 1, 'warned once');
});

test('Restart Now on the crash warning restarts the server', async (t) => {
  const { drover, ui, close } = await activate();
  t.after(close);
  const firstPid = drover.connection.pid;
  process.kill(firstPid, 'SIGKILL');
  (await ui.nextPrompt('warning', (p) => p.message.includes('exited unexpectedly'))).click('Restart Now');
  await waitFor(() => drover.connection && drover.connection.pid !== firstPid &&
    ui.state.context.get('drover.connected') === true, 'a new server');
  assert.match(ui.state.statusItems[0].text, /Drover: 0 live · 0 gates/);
});

test('a JSON-RPC error is shown with the server\'s message', async (t) => {
  const { drover, ui, close } = await activate();
  t.after(close);
  const started = await startPipeline(ui, 'Demo (fake agents)', 'retry too early');
  await waitFor(() => drover.model.inbox().length === 1, 'the run to block');
  // Retry is for failed or cancelled runs; this one is blocked: the server answers -33002.
  await run('drover.retryRun', { type: 'run', runId: started.id });
  const error = await ui.nextPrompt('error');
  const direct = await drover.request('run/retry', { runId: started.id }).catch((e) => e);
  assert.equal(direct.code, -33002);
  assert.equal(error.message, `Drover: ${direct.message}`);
  assert.match(error.message, /blocked/);
});

test('commands whose methods the server lacks are disabled and send nothing', async (t) => {
  const { drover, ui, close } = await activate();
  t.after(close);
  const methods = drover.capabilities.methods;
  if (methods.includes('run/diff')) {
    // This server offers every method the commands need (run/diff and run/apply came with isolated
    // runs): then those commands are enabled, and there is nothing disabled left to check.
    assert.equal(ui.state.context.get('drover.can.showDiff'), true);
    assert.equal(ui.state.context.get('drover.can.applyRun'), methods.includes('run/apply'));
    return;
  }
  assert.equal(ui.state.context.get('drover.can.showDiff'), false);
  assert.equal(ui.state.context.get('drover.can.applyRun'), methods.includes('run/apply'));
  assert.equal(ui.state.context.get('drover.can.runPipeline'), true);
  assert.equal(ui.state.context.get('drover.can.approve'), true);
  const sent = spy(drover);
  await run('drover.showDiff', { type: 'run', runId: 'r-x' });
  assert.deepEqual(sent, []);
  assert.deepEqual(ui.messages('warning'), ['Drover: this server does not offer run/diff, which drover.showDiff needs. ' +
    'Update drover to use it.']);
});
