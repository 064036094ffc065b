'use strict';
// package.json checked against the code, the way VS Code reads it (what can be checked offline),
// and the .vsix that scripts/pack-vsix.js packs.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');
const { activate, vscode } = require('./helpers');
const { COMMANDS, CONTEXT_KEYS } = require('../src/extension');
const { RunsModel } = require('../src/model');
const { RunsTree, InboxTree } = require('../src/views');
const { pack, unzip } = require('../scripts/pack-vsix');

const ROOT = path.join(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const contributes = pkg.contributes;
const declared = contributes.commands.map((c) => c.command);
const views = Object.values(contributes.views).flat().map((v) => v.id);
const menuEntries = Object.entries(contributes.menus).flatMap(([menu, entries]) => entries.map((e) => ({ menu, ...e })));

/** Every context value the trees can give an item: runs in every status, steps in every state, gates. */
function producibleContextValues() {
  const model = new RunsModel();
  const statuses = ['queued', 'running', 'blocked', 'paused', 'done', 'failed', 'cancelled'];
  const states = ['pending', 'working', 'waiting', 'done', 'failed', 'skipped'];
  statuses.forEach((status, i) => {
    model.upsert({
      id: `r-${i}`, pipelineId: 'p', task: 't', status, createdAt: '', updatedAt: '', lastSeq: 1,
      usage: { inputTokens: 0, outputTokens: 0, costUSD: 0 },
      steps: states.map((state) => ({ id: state, kind: 'agent', state, attempts: 1 }))
        .concat([{ id: 'd', kind: 'agent', state: 'waiting', attempts: 1, decision: { id: 'd-1', question: 'q', options: ['a'] } },
          { id: 'a', kind: 'agent', state: 'waiting', attempts: 1, approval: { id: 'a-1', status: 'pending', proposal: 'x' } },
          { id: 'f', kind: 'agent', state: 'waiting', attempts: 1, children: [`r-${i}-child`] }]),
    });
  });
  const values = new Set();
  const commands = new Set();
  for (const tree of [new RunsTree(vscode, model), new InboxTree(vscode, model)]) {
    const walk = (node) => {
      for (const child of tree.getChildren(node)) {
        const item = tree.getTreeItem(child);
        values.add(item.contextValue);
        if (item.command) commands.add(item.command.command);
        walk(child);
      }
    };
    walk(undefined);
  }
  return { values, commands };
}

/** The terms of a `when` clause: [{key, op, value}] (op/value absent for a bare or negated key). */
function whenTerms(clause) {
  return clause.split(/&&|\|\|/).map((term) => term.trim().replace(/^\(|\)$/g, '').trim()).map((term) => {
    const match = /^(!?)([\w.-]+)\s*(==|!=|=~|in)?\s*(.*)$/.exec(term);
    assert.ok(match, `cannot read when term ${JSON.stringify(term)}`);
    return { key: match[2], op: match[3], value: match[4] };
  });
}

test('commands: declared in package.json exactly when registered on activation; menus name declared ones', async (t) => {
  const { ui, close } = await activate();
  t.after(close);
  const registered = [...ui.state.commands.keys()].sort();
  assert.deepEqual([...declared].sort(), registered);
  assert.deepEqual(Object.keys(COMMANDS).sort(), registered);
  for (const entry of menuEntries) assert.ok(declared.includes(entry.command), `${entry.menu} names ${entry.command}`);
  for (const command of contributes.commands) {
    assert.ok(command.title && command.category === 'Drover', `${command.command} has a title and the Drover category`);
  }
  // Commands the code invokes through items and the status bar are declared too.
  const { commands } = producibleContextValues();
  for (const id of commands) assert.ok(declared.includes(id), `tree items run ${id}`);
  assert.ok(declared.includes(ui.state.statusItems[0].command));
});

test('views: every view is created by the code and belongs to a declared container', async (t) => {
  const { ui, close } = await activate();
  t.after(close);
  assert.deepEqual([...ui.state.treeViews.keys()].sort(), [...views].sort());
  const containers = contributes.viewsContainers.activitybar.map((c) => c.id);
  for (const container of Object.keys(contributes.views)) assert.ok(containers.includes(container));
  for (const container of contributes.viewsContainers.activitybar) {
    assert.ok(fs.existsSync(path.join(ROOT, container.icon)), `${container.icon} exists`);
  }
  for (const welcome of contributes.viewsWelcome) assert.ok(views.includes(welcome.view));
});

test('when clauses name only context keys the code sets, views that exist, items the trees produce', async (t) => {
  const { ui, close } = await activate();
  t.after(close);
  const set = [...ui.state.context.keys()];
  assert.deepEqual([...CONTEXT_KEYS].sort(), [...set].sort(), 'the code sets exactly the keys it declares');
  const { values } = producibleContextValues();
  for (const entry of menuEntries.filter((e) => e.when)) {
    for (const { key, op, value } of whenTerms(entry.when)) {
      if (key === 'view') {
        assert.equal(op, '==');
        assert.ok(views.includes(value), `${entry.when}: view ${value} exists`);
      } else if (key === 'viewItem') {
        if (op === '==') {
          assert.ok(values.has(value), `${entry.when}: some item has contextValue ${value}`);
        } else {
          assert.equal(op, '=~');
          const regex = new RegExp(value.slice(1, value.lastIndexOf('/')));
          assert.ok([...values].some((v) => regex.test(v)), `${entry.when}: ${value} matches some item`);
        }
      } else {
        assert.ok(set.includes(key), `${entry.when}: the code sets ${key}`);
      }
    }
  }
});

test('activation events, engine, main, icon and the drover.path setting are well formed', () => {
  assert.equal(pkg.engines.vscode, '^1.74.0');
  assert.ok(fs.existsSync(path.join(ROOT, pkg.main)));
  const png = fs.readFileSync(path.join(ROOT, pkg.icon));
  assert.equal(png.subarray(1, 4).toString('ascii'), 'PNG', 'the Marketplace icon is a PNG');
  for (const event of pkg.activationEvents) {
    const [kind, id] = event.split(':');
    if (kind === 'onCommand') assert.ok(declared.includes(id), `${event} names a declared command`);
    else if (kind === 'onView') assert.ok(views.includes(id), `${event} names a declared view`);
    else assert.fail(`unexpected activation event ${event}`);
  }
  const setting = contributes.configuration.properties['drover.path'];
  assert.equal(setting.type, 'string');
  assert.equal(setting.default, 'drover');
  assert.deepEqual(Object.keys(pkg.dependencies || {}), [], 'no dependencies');
});

test('the .vsix holds the manifest, the content types and every file the manifests name', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'drover-vsix-'));
  try {
    const out = path.join(dir, 'drover.vsix');
    pack(out);
    const entries = unzip(fs.readFileSync(out));
    const names = entries.map((e) => e.name);
    const text = (name) => entries.find((e) => e.name === name).data.toString('utf8');
    assert.ok(names.includes('[Content_Types].xml'));
    assert.ok(names.includes('extension.vsixmanifest'));
    const manifest = text('extension.vsixmanifest');
    assert.match(manifest, new RegExp(`<Identity Language="en-US" Id="drover" Version="${pkg.version}" Publisher="drover"/>`));
    assert.match(manifest, /<Property Id="Microsoft.VisualStudio.Code.Engine" Value="\^1.74.0"\/>/);
    const assets = [...manifest.matchAll(/Path="([^"]+)"/g)].map((m) => m[1]);
    assert.ok(assets.includes('extension/package.json'));
    for (const asset of assets) assert.ok(names.includes(asset), `asset ${asset} is in the pack`);
    const iconPath = /<Icon>([^<]+)<\/Icon>/.exec(manifest)[1];
    assert.ok(names.includes(iconPath));
    // Every file package.json refers to is there, and package.json is the source's.
    assert.deepEqual(JSON.parse(text('extension/package.json')), pkg);
    for (const file of [pkg.main, pkg.icon, ...contributes.viewsContainers.activitybar.map((c) => c.icon)]) {
      assert.ok(names.includes(`extension/${path.posix.normalize(file)}`), `${file} is in the pack`);
    }
    for (const file of fs.readdirSync(path.join(ROOT, 'src'))) assert.ok(names.includes(`extension/src/${file}`));
    assert.ok(!names.some((n) => n.startsWith('extension/test/')), 'tests are not shipped');
    const types = text('[Content_Types].xml');
    for (const name of names.filter((n) => n !== '[Content_Types].xml')) {
      assert.ok(types.includes(`Extension="${path.extname(name)}"`), `a content type for ${name}`);
    }
    // An independent reader agrees (python's zipfile checks every CRC).
    const check = execFileSync('python3', ['-m', 'zipfile', '-t', out], { encoding: 'utf8' });
    assert.match(check, /Done testing/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
