'use strict';
// Richer pipelines (issue 19) in the views: consensus answers and the winner, review rounds with
// their findings (and the review next to the approval), a fan-out's child runs nested under their
// parent's step, the Inbox's wait on child runs (checked against the server's inbox/list) and
// Open Run. The `rich` fixture (editors/fixtures) drives all three with fake agents.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const { activate, run, waitFor, serverRun, startPipeline } = require('./helpers');

const FIXTURES = path.join(__dirname, '..', '..', 'fixtures');

/** The fixture pipelines and agents in a trusted workspace with a first commit; starts `rich`. */
async function startRich(t, pipelineLabel = 'Rich') {
  const env = await activate();
  t.after(env.close);
  const git = (...args) => execFileSync('git', args, { cwd: env.ws, encoding: 'utf8' }).trim();
  const pipelines = path.join(env.ws, '.drover', 'pipelines');
  fs.mkdirSync(pipelines, { recursive: true });
  for (const file of fs.readdirSync(path.join(FIXTURES, 'pipelines'))) {
    fs.copyFileSync(path.join(FIXTURES, 'pipelines', file), path.join(pipelines, file));
  }
  fs.copyFileSync(path.join(FIXTURES, 'config.json'), path.join(env.ws, '.drover', 'config.json'));
  fs.writeFileSync(path.join(env.ws, 'README.md'), 'readme\n');
  git('config', 'user.email', 'test@drover.invalid');
  git('config', 'user.name', 'Drover Test');
  git('add', 'README.md');
  git('commit', '-q', '-m', 'initial');
  await env.drover.request('workspace/trust', { trusted: true });
  const started = await startPipeline(env.ui, pipelineLabel, 'parse dates');
  return Object.assign(env, { runId: started.id });
}

/** Waits until the rendered tree's text satisfies `pred`; returns the rendering. */
async function waitTree(ui, viewId, pred, what) {
  let last;
  try {
    return await waitFor(async () => {
      last = await ui.renderTree(viewId);
      return pred(last.text) && last;
    }, what);
  } catch (error) {
    throw new Error(`${error.message}; the ${viewId} view shows:\n${last && last.text}`);
  }
}

test('Runs view: consensus answers and the winner, review rounds with findings, the review next to the approval', async (t) => {
  const { drover, ui, runId } = await startRich(t);
  const tree = await waitTree(ui, 'drover.runs', (text) => text.includes('review by review'), 'the approval with its review');
  const text = tree.text;
  for (const needle of [
    '    candidate alpha — attempt 1: Use PostgreSQL [note]',
    '    candidate beta — attempt 2: SQLite [note]',
    '    candidate gamma — attempt 3: use   postgresql [note]',
    '    candidate delta — attempt 4: no answer (agent): ',
    '    alpha won (vote) — 2 of 3 answers agree (alpha, gamma): Use PostgreSQL [note]',
    '    review of impl — round 1: score 0.40 (needs 0.80) below the threshold [note]\n' +
      '      - the parser has no tests [finding]\n      - dates are off by one [finding]\n',
    '    review of impl — round 2: score 0.90 (needs 0.80) passed [note]',
    '  impl — waiting · attempt 2 · approval [step.waiting.approval]\n' +
      '    review by review — round 2: score 0.90 (needs 0.80) passed [note]',
  ]) {
    assert.ok(text.includes(needle), `the Runs view shows ${JSON.stringify(needle)}:\n${text}`);
  }
  assert.match(text, /candidate delta — attempt 4: no answer \(agent\): [^\n]*delta is offline/);
  assert.ok(text.indexOf('review of impl — round 1') < text.indexOf('review of impl — round 2'), 'rounds in order');

  // The Inbox shows the review with the approval; approving it from there goes on to the fan-out.
  const inbox = await waitTree(ui, 'drover.inbox', (s) => s.includes('gate.approval'), 'the approval in the Inbox');
  const approval = inbox.items.find((i) => i.item.contextValue === 'gate.approval');
  assert.match(approval.item.description, / · review round 2: score 0\.90 \(needs 0\.80\) passed$/);
  assert.match(approval.item.tooltip, /Review by review, round 2: score 0\.90/);
  await run('drover.approve', approval.node);
  await waitFor(async () => ((await serverRun(drover, runId)).steps[3].children || []).length === 2,
    'the fan-out to start two children');
});

test("Runs view: a reviewer's replies that are not a verdict, then the failure", async (t) => {
  const { ui } = await startRich(t, 'Malformed');
  const tree = await waitTree(ui, 'drover.runs', (text) => text.includes('review attempt 2'), 'the second malformed reply');
  assert.ok(tree.text.includes('  review — failed · attempt 2 [step.failed]\n' +
    '    review attempt 1: not a verdict — the reply is not JSON: Looks fine to me. [note]\n' +
    '    review attempt 2: not a verdict — the reply is not JSON: Looks fine to me. [note]'), tree.text);
});

test('fan-out: child runs nested under the parent step; the Inbox waits on them like inbox/list; Open Run; merges shown', async (t) => {
  const { drover, ui, runId } = await startRich(t);
  const approval = await waitFor(() => drover.model.inbox().find((g) => g.kind === 'approval'), 'the approval');
  await drover.request('step/approve', { runId, approvalId: approval.id });
  // Each child asks before it writes: both wait (blocked) while the parent waits on them.
  let tree = await waitTree(ui, 'drover.runs', (text) => text.includes('split — waiting · 2 child runs: 2 blocked'),
    'the split step waiting on two blocked children');
  const children = (await serverRun(drover, runId)).steps[3].children;
  const lines = tree.text.split('\n');
  const at = lines.findIndex((line) => line.startsWith('  split — waiting'));
  assert.match(lines[at + 1], /^ {4}child: alpha\.txt — blocked · work \[run\.blocked\]$/);
  assert.match(lines[at + 3], /^ {4}child: beta\.txt — blocked · work \[run\.blocked\]$/, tree.text);
  assert.deepEqual(tree.items.filter((i) => i.node.type === 'run' && i.node.parent).map((i) => i.node.runId), children);
  // At the top level only the parent, which counts its children.
  const top = tree.items.filter((i) => i.node.type === 'run' && !i.node.parent);
  assert.deepEqual(top.map((i) => i.node.runId), [runId]);
  assert.match(top[0].item.description, /^blocked · split · 2 child runs: 2 blocked$/);

  // The Inbox: the two child questions, and the parent's wait on its children, as the server's inbox/list has it.
  const inbox = await waitTree(ui, 'drover.inbox', (s) => s.includes('gate.children'), 'the wait on children');
  const wait = inbox.items.find((i) => i.item.contextValue === 'gate.children');
  assert.equal(wait.item.label, 'Waiting on 2 child runs: 2 blocked');
  assert.equal(wait.item.description, `${runId} · split`);
  const listed = (await drover.request('inbox/list', {})).items.find((item) => item.kind === 'children');
  assert.ok(listed, 'the server lists the wait too');
  assert.equal(wait.node.id, listed.id);
  assert.deepEqual(wait.node.children.map((c) => [c.runId, c.status]), listed.children.map((c) => [c.runId, c.status]));
  assert.equal(inbox.items.filter((i) => i.item.contextValue === 'gate.decision').length, 2);
  // Nothing to answer: the gate commands refuse it and send nothing; the status bar counts only the questions.
  await run('drover.approve', wait.node);
  assert.match(ui.messages('error').pop(), /waits on its child runs: nothing to answer there/);
  await run('drover.answerDecision', wait.node);
  assert.match(ui.messages('error').pop(), /waits on its child runs: nothing to answer there/);
  assert.match(ui.state.statusItems[0].text, / · 2 gates$/);

  // Open Run on the wait asks which child and reveals it under its parent's step, expanded.
  const opening = run('drover.openRun', wait.node);
  const pick = await ui.nextPrompt('quickPick', (p) => /Open which child run/.test(p.options.placeHolder || ''));
  assert.deepEqual(pick.items.map((i) => [i.label, i.description, i.detail]),
    [[children[0], 'blocked', 'alpha.txt'], [children[1], 'blocked', 'beta.txt']]);
  pick.answer(pick.items[1]);
  assert.equal(await opening, children[1]);
  const revealed = ui.state.treeViews.get('drover.runs').revealed.pop();
  assert.deepEqual(revealed.node, { type: 'run', runId: children[1], parent: { runId, stepId: 'split' } });
  assert.deepEqual(revealed.options, { select: true, focus: true, expand: true });

  // The children's questions answered from the Inbox; the parent merges both, in order.
  for (let i = 0; i < 2; i += 1) {
    const decision = await waitFor(() => drover.model.inbox().find((g) => g.kind === 'decision'), 'a child question');
    const answering = run('drover.answerDecision', decision);
    (await ui.nextPrompt('quickPick')).pick('yes');
    await answering;
    await waitFor(() => !drover.model.inbox().some((g) => g.runId === decision.runId && g.id === decision.id),
      'the answer to land');
  }
  await waitFor(async () => (await serverRun(drover, runId)).status === 'done', 'the parent to be done');
  const events = (await drover.request('run/events', { runId, afterSeq: 0, limit: 1000 })).events;
  const merges = events.filter((e) => e.type === 'child.merged').map((e) => e.data);
  assert.deepEqual(merges.map((m) => m.childRunId), children);
  tree = await waitTree(ui, 'drover.runs', (text) => merges.every((m) => text.includes(`merged ${m.commit.slice(0, 7)}`)),
    'each child with its merge commit');
  const childLines = tree.items.filter((i) => i.node.type === 'run' && i.node.parent);
  assert.deepEqual(childLines.map((i) => i.item.description),
    merges.map((m) => `done · merged ${m.commit.slice(0, 7)}`));
  assert.ok(tree.text.includes('split — done · 2 child runs: 2 done'), tree.text);
  await waitTree(ui, 'drover.inbox', (s) => !s.includes('gate.children'), 'the wait to leave the Inbox');
});
