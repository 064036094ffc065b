'use strict';
// Show Diff and Apply on a run isolated in its own git worktree: the changed files in a QuickPick,
// a file opened with vscode.diff (base and run content from the content provider), the whole patch
// as a document, a refused apply that changes nothing, and a merge that lands in HEAD.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const { activate, run, waitFor, serverRun, startPipeline, fakePipeline } = require('./helpers');

const WRITER = fakePipeline([[
  { write: { path: 'hello.txt', text: 'hello from the agent\nsecond line\n' } },
  { write: { path: 'README.md', text: 'readme\nby the agent\n' } },
  { result: 'wrote' },
]], { name: 'Writer' });

/** A workspace with one commit, a trusted writer pipeline and a done run of it. */
async function doneRun(t) {
  const env = await activate({ pipelines: { writer: WRITER } });
  t.after(env.close);
  const git = (...args) => execFileSync('git', args, { cwd: env.ws, encoding: 'utf8' }).trim();
  git('config', 'user.email', 'test@drover.invalid');
  git('config', 'user.name', 'Drover Test');
  fs.writeFileSync(path.join(env.ws, 'README.md'), 'readme\n');
  git('add', 'README.md');
  git('commit', '-q', '-m', 'initial');
  await env.drover.request('workspace/trust', { trusted: true });
  const started = await startPipeline(env.ui, 'Writer', 'write hello');
  await waitFor(() => env.drover.model.get(started.id) && env.drover.model.get(started.id).status === 'done',
    'the run to be done');
  return Object.assign(env, { git, runId: started.id, head: git('rev-parse', 'HEAD') });
}

test('Show Diff lists the changed files; a file opens as vscode.diff of base and run; the whole patch opens', async (t) => {
  const { drover, ui, git, runId, head } = await doneRun(t);
  const node = { type: 'run', runId };

  let shown = run('drover.showDiff', node);
  let pick = await ui.nextPrompt('quickPick');
  assert.deepEqual(pick.labels(), ['README.md', 'hello.txt', '$(diff) Whole patch']); // in git's order
  assert.equal(pick.items[0].description, 'modified · +1 -0');
  assert.equal(pick.items[1].description, 'added · +2 -0');
  assert.match(pick.options.placeHolder, /2 changed files/);
  pick.pick('README.md');
  await shown;
  assert.equal(ui.state.diffs.length, 1);
  const diff = ui.state.diffs[0];
  assert.equal(diff.title, `README.md (${runId}: base ↔ run)`);
  assert.equal(diff.left.scheme, 'drover-diff');
  assert.equal(diff.leftText, 'readme\n');
  assert.equal(diff.rightText, 'readme\nby the agent\n');

  shown = run('drover.showDiff', node);
  pick = await ui.nextPrompt('quickPick');
  pick.pick('hello.txt');
  await shown;
  assert.equal(ui.state.diffs[1].leftText, '', 'an added file has no base content');
  assert.equal(ui.state.diffs[1].rightText, 'hello from the agent\nsecond line\n');

  shown = run('drover.showDiff', node);
  pick = await ui.nextPrompt('quickPick');
  pick.pick('$(diff) Whole patch');
  await shown;
  const patch = ui.state.shown[ui.state.shown.length - 1];
  assert.equal(patch.languageId, 'diff');
  assert.match(patch.getText(), /^diff --git a\/README.md b\/README.md\n/);
  assert.match(patch.getText(), /\n\+hello from the agent\n\+second line\n$/);
  assert.equal(git('rev-parse', 'HEAD'), head, 'looking changes nothing');

  // The Runs tree: the run's worktree and branch in its tooltip, the step's commit on the step.
  const tree = await waitFor(async () => {
    const rendered = await ui.renderTree('drover.runs');
    return rendered.text.includes('1 commit +3 -0') ? rendered : undefined;
  }, 'the step commit in the Runs tree');
  const runItem = tree.items.find((i) => i.node.type === 'run' && i.node.runId === runId).item;
  assert.match(runItem.tooltip, new RegExp(`worktree: .*/\\.drover/worktrees/${runId}\n`));
  assert.match(runItem.tooltip, new RegExp(`branch: drover/${runId} from HEAD`));
  assert.equal(drover.model.commitsOf(runId, 's').length, 1);
});

test('Apply: refused on an uncommitted edit of a run file (nothing changes), then merged into HEAD', async (t) => {
  const { drover, ui, git, ws, runId, head } = await doneRun(t);
  const node = { type: 'run', runId };
  fs.writeFileSync(path.join(ws, 'hello.txt'), 'my own hello\n');

  let applying = run('drover.applyRun', node);
  let pick = await ui.nextPrompt('quickPick');
  assert.deepEqual(pick.labels(), ['merge', 'squash', 'patch']);
  pick.pick('merge');
  let confirm = await ui.nextPrompt('warning');
  assert.equal(confirm.message, `Apply run ${runId} (writer) with merge?`);
  assert.equal(confirm.options.modal, true);
  confirm.click('Apply');
  const refusal = await ui.nextPrompt('error');
  await applying;
  assert.match(refusal.message, new RegExp(`^Drover: ${runId} was not applied: .*uncommitted.* Files: hello\\.txt$`));
  assert.deepEqual(refusal.items, ['Open Files']);
  refusal.click('Open Files');
  await waitFor(() => ui.state.shown.some((d) => d.uri.fsPath === path.join(ws, 'hello.txt')), 'the file to open');
  assert.equal(git('rev-parse', 'HEAD'), head);
  assert.equal(fs.readFileSync(path.join(ws, 'hello.txt'), 'utf8'), 'my own hello\n');
  assert.equal((await serverRun(drover, runId)).workspace.applied, undefined);

  // Declined at the modal: nothing sent.
  fs.unlinkSync(path.join(ws, 'hello.txt'));
  applying = run('drover.applyRun', node);
  (await ui.nextPrompt('quickPick')).pick('squash');
  (await ui.nextPrompt('warning')).dismiss();
  assert.equal(await applying, undefined);
  assert.equal((await serverRun(drover, runId)).workspace.applied, undefined);

  applying = run('drover.applyRun', node);
  pick = await ui.nextPrompt('quickPick');
  pick.pick('merge');
  confirm = await ui.nextPrompt('warning');
  confirm.click('Apply');
  const applied = await applying;
  assert.equal(applied.workspace.applied.strategy, 'merge');
  assert.equal(git('show', 'HEAD:hello.txt'), 'hello from the agent\nsecond line');
  assert.equal(git('show', 'HEAD:README.md'), 'readme\nby the agent');
  assert.ok(git('log', '-1', '--format=%P', 'HEAD').includes(head), 'a merge on top of the old HEAD');
  assert.ok(ui.messages('info').some((m) => m.startsWith(`Drover: applied ${runId} (merge into `)));
  const tree = await ui.renderTree('drover.runs');
  assert.match(tree.text, /done · applied \(merge\)/);
});
