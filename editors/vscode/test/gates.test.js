'use strict';
// Every gate action and run action, as a user triggers them (menus pass tree nodes, the palette
// passes nothing and gets a QuickPick), checked against the run read back from the server.

const test = require('node:test');
const assert = require('node:assert/strict');
const { activate, run, waitFor, serverRun, startPipeline, fakePipeline } = require('./helpers');

/** Starts the demo and answers its decision; resolves with the run id once the approval is open. */
async function demoAtApproval(ui, drover) {
  const started = await startPipeline(ui, 'Demo (fake agents)', 'Add a --verbose flag');
  const decision = await waitFor(() => drover.model.inbox().find((g) => g.kind === 'decision'), 'the decision');
  const answering = run('drover.answerDecision', decision);
  (await ui.nextPrompt('quickPick')).pick('quick');
  await answering;
  await approvalNode(ui);
  return started.id;
}

/** The Inbox's approval item, once there. */
async function approvalNode(ui, notId) {
  return waitFor(async () => {
    const tree = await ui.renderTree('drover.inbox');
    const found = tree.items.find((i) => i.item.contextValue === 'gate.approval' && i.node.id !== notId);
    return found;
  }, 'an approval in the Inbox');
}

test('Approve from the Command Palette picks the approval in a QuickPick and completes the step', async (t) => {
  const { drover, ui, close } = await activate();
  t.after(close);
  const runId = await demoAtApproval(ui, drover);
  const approving = run('drover.approve');
  const pick = await ui.nextPrompt('quickPick', (p) => p.options.placeHolder === 'Which approval?');
  assert.equal(pick.items.length, 1);
  assert.match(pick.items[0].label, /^impl: Implemented/);
  pick.answer(pick.items[0]);
  await approving;
  const back = await serverRun(drover, runId);
  assert.equal(back.steps[1].approval.status, 'approved');
  assert.equal(back.steps[1].state, 'done');
});

test('Request Changes sends the typed feedback; the step re-runs and a new approval replaces the old one', async (t) => {
  const { drover, ui, close } = await activate();
  t.after(close);
  const runId = await demoAtApproval(ui, drover);
  const first = await approvalNode(ui);
  const requesting = run('drover.requestChanges', first.node);
  const box = await ui.nextPrompt('inputBox');
  assert.equal(box.options.validateInput(' '), 'The feedback must not be blank');
  box.type('Also document the flag in the README');
  await requesting;
  const afterRequest = await serverRun(drover, runId);
  // The old approval is marked; the step re-ran (attempt 2) and asks again with the feedback in its prompt.
  const second = await approvalNode(ui, first.node.id);
  assert.notEqual(second.node.id, first.node.id);
  const back = await serverRun(drover, runId);
  assert.equal(back.steps[1].attempts, 2);
  assert.equal(back.steps[1].approval.id, second.node.id);
  assert.match(back.steps[1].approval.proposal, /Also document the flag in the README/);
  assert.ok(afterRequest.lastSeq > 0);
  const inbox = await ui.renderTree('drover.inbox');
  assert.equal(inbox.items.length, 1, 'only the new approval is open');
});

test('Reject from the Runs view step asks a reason, fails the run; Retry re-runs the step with it', async (t) => {
  const { drover, ui, close } = await activate();
  t.after(close);
  const runId = await demoAtApproval(ui, drover);
  const runs = await ui.renderTree('drover.runs');
  const impl = runs.items.find((i) => i.item.contextValue === 'step.waiting.approval');
  assert.equal(impl.node.stepId, 'impl');
  const rejecting = run('drover.reject', impl.node);
  (await ui.nextPrompt('inputBox')).type('Wrong approach: use the existing logger');
  await rejecting;
  let back = await serverRun(drover, runId);
  assert.equal(back.status, 'failed');
  assert.equal(back.failure.kind, 'rejected');
  assert.equal(back.steps[1].approval.feedback, 'Wrong approach: use the existing logger');
  const failed = await waitFor(async () => {
    const tree = await ui.renderTree('drover.runs');
    return tree.items.find((i) => i.item.contextValue === 'run.failed');
  }, 'the Runs view to show the run failed');

  run('drover.retryRun', failed.node);
  const retried = await approvalNode(ui);
  back = await serverRun(drover, runId);
  assert.equal(back.steps[1].approval.id, retried.node.id);
  assert.match(back.steps[1].approval.proposal, /use the existing logger/);
});

test('Edit Proposal opens the proposal in an editor; Approve Edited Proposal sends the edited text', async (t) => {
  const { drover, ui, close } = await activate();
  t.after(close);
  const runId = await demoAtApproval(ui, drover);
  const node = await approvalNode(ui);
  const document = await run('drover.editProposal', node.node);
  const original = (await serverRun(drover, runId)).steps[1].approval.proposal;
  assert.equal(document.getText(), original);
  assert.equal(ui.state.activeTextEditor.document, document);
  assert.equal(ui.state.context.get('drover.proposalEditor'), true, 'the editor-title Approve button shows');

  document.setText('Edited by the reviewer:\nuse --verbose and -v.');
  await run('drover.approveEditedProposal');
  const back = await waitFor(async () => {
    const r = await serverRun(drover, runId);
    return r.status === 'done' ? r : undefined;
  }, 'the run to finish after the edited approval');
  assert.equal(back.steps[1].approval.status, 'approved');
  assert.equal(back.steps[1].output, 'Edited by the reviewer:\nuse --verbose and -v.');
  assert.equal(ui.state.context.get('drover.proposalEditor'), false);
});

test('Cancel asks first, then cancels; Restart from Step re-runs from the picked step', async (t) => {
  const { drover, ui, close } = await activate();
  t.after(close);
  const runId = await demoAtApproval(ui, drover);
  const firstApproval = (await serverRun(drover, runId)).steps[1].approval.id;

  const declining = run('drover.cancelRun', { type: 'run', runId });
  (await ui.nextPrompt('warning', (p) => p.message.startsWith('Cancel run'))).dismiss();
  await declining;
  assert.equal((await serverRun(drover, runId)).status, 'blocked', 'dismissing the question cancels nothing');

  const cancelling = run('drover.cancelRun', { type: 'run', runId });
  const ask = await ui.nextPrompt('warning', (p) => p.message.startsWith('Cancel run'));
  assert.equal(ask.options.modal, true);
  ask.click('Cancel Run');
  await cancelling;
  assert.equal((await serverRun(drover, runId)).status, 'cancelled');
  await waitFor(async () => (await ui.renderTree('drover.runs')).text.includes('[run.cancelled]'), 'the view to show it');

  const restarting = run('drover.restartRun', { type: 'run', runId });
  const steps = await ui.nextPrompt('quickPick');
  assert.deepEqual(steps.labels(), ['plan', 'impl']);
  steps.pick('plan');
  await restarting;
  // plan re-runs (its fake agent's later attempts answer without asking), then impl asks again.
  const approval = await waitFor(() => drover.model.inbox().find((g) => g.kind === 'approval' && g.id !== firstApproval),
    'impl to ask again');
  const back = await serverRun(drover, runId);
  assert.equal(back.status, 'blocked');
  assert.equal(back.steps[0].attempts, 3, 'plan ran twice before, this is its third attempt');
  assert.equal(back.steps[1].approval.id, approval.id);
  assert.equal(back.steps[1].attempts, 2);
});

test('Trust: a workspace pipeline asks before trusting; declining sends nothing, accepting runs it', async (t) => {
  const { drover, ui, close } = await activate({
    pipelines: { hello: fakePipeline([[{ say: 'hello from the workspace' }, { result: 'ok' }]], { name: 'Hello' }) },
  });
  t.after(close);
  const sent = [];
  drover.connection.on('sent', (message) => sent.push(message.method));

  const declined = run('drover.runPipeline');
  (await ui.nextPrompt('quickPick')).pick('Hello');
  (await ui.nextPrompt('inputBox')).type('greet');
  const ask = await ui.nextPrompt('warning', (p) => p.message === 'Trust this workspace for Drover?');
  assert.equal(ask.options.modal, true);
  assert.match(ask.options.detail, /can run commands on this machine/);
  ask.dismiss();
  assert.equal(await declined, undefined);
  assert.ok(!sent.includes('workspace/trust'), 'no workspace/trust without the user saying yes');
  assert.equal((await drover.request('run/list', {})).runs.length, 0);

  const accepted = run('drover.runPipeline');
  (await ui.nextPrompt('quickPick')).pick('Hello');
  (await ui.nextPrompt('inputBox')).type('greet');
  (await ui.nextPrompt('warning', (p) => p.message === 'Trust this workspace for Drover?')).click('Trust Workspace');
  const started = await accepted;
  assert.ok(started, 'the run started after trusting');
  await waitFor(async () => (await serverRun(drover, started.id)).status === 'done', 'the workspace pipeline to finish');
  assert.ok(sent.includes('workspace/trust'));
});
