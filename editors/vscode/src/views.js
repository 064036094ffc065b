'use strict';
// Tree views: Runs (runs, expanding to steps) and Inbox (open gates), rendered from the model.

const { gatesOf } = require('./model');

const RUN_ICONS = {
  queued: ['clock', undefined], running: ['sync~spin', undefined], blocked: ['bell', 'charts.yellow'],
  paused: ['debug-pause', undefined], done: ['pass', 'charts.green'], failed: ['error', 'charts.red'],
  cancelled: ['circle-slash', undefined],
};
const STEP_ICONS = {
  pending: ['circle-outline', undefined], working: ['sync~spin', undefined], waiting: ['bell', 'charts.yellow'],
  done: ['check', 'charts.green'], failed: ['error', 'charts.red'], skipped: ['debug-step-over', undefined],
};

function firstLine(text, max = 60) {
  const line = String(text || '').split('\n')[0].trim();
  return line.length > max ? line.slice(0, max - 1) + '…' : line;
}

function formatCost(usage) {
  if (!usage || !(usage.costUSD > 0)) return undefined;
  return '$' + (usage.costUSD < 0.01 ? usage.costUSD.toFixed(4) : usage.costUSD.toFixed(2));
}

function icon(vscode, table, key) {
  const [id, color] = table[key] || ['question', undefined];
  return color ? new vscode.ThemeIcon(id, new vscode.ThemeColor(color)) : new vscode.ThemeIcon(id);
}

/** Where a run works (RunWorkspace), as tooltip lines. */
function workspaceText(ws) {
  if (!ws) return '';
  const lines = [];
  if (ws.isolation === 'worktree') {
    lines.push(`worktree: ${ws.path}${ws.removed ? ' (removed)' : ''}`);
    lines.push(`branch: ${ws.branch} from ${ws.base || 'HEAD'}${ws.baseCommit ? ` (${ws.baseCommit.slice(0, 7)})` : ''}`);
  } else {
    lines.push(`workspace: ${ws.path} (no isolation${ws.note ? ': ' + ws.note : ''})`);
  }
  if (ws.applied) {
    lines.push(`applied: ${ws.applied.strategy}${ws.applied.into ? ' into ' + ws.applied.into : ''}` +
      `${ws.applied.commit ? ', commit ' + ws.applied.commit.slice(0, 7) : ''}`);
  }
  return lines.join('\n');
}

/** The open gate of a step, if any (decision or approval). */
function stepGate(run, step) {
  return gatesOf(run).find((gate) => gate.stepId === step.id);
}

class RunsTree {
  constructor(vscode, model) {
    this.vscode = vscode;
    this.model = model;
    this.changed = new vscode.EventEmitter();
    this.onDidChangeTreeData = this.changed.event;
    model.on('changed', () => this.changed.fire(undefined));
  }

  getChildren(node) {
    if (!node) return this.model.list().map((run) => ({ type: 'run', runId: run.id }));
    if (node.type === 'run') {
      const run = this.model.get(node.runId);
      return run ? run.steps.map((step) => ({ type: 'step', runId: run.id, stepId: step.id })) : [];
    }
    return [];
  }

  getParent(node) {
    return node.type === 'step' ? { type: 'run', runId: node.runId } : undefined;
  }

  getTreeItem(node) {
    const vscode = this.vscode;
    const run = this.model.get(node.runId);
    if (!run) return new vscode.TreeItem('(gone)');
    if (node.type === 'run') {
      const item = new vscode.TreeItem(`${run.pipelineId}: ${firstLine(run.task, 50)}`,
        vscode.TreeItemCollapsibleState.Collapsed);
      const parts = [run.status];
      if (run.currentStep && run.status !== 'done') parts.push(run.currentStep);
      const cost = formatCost(run.usage);
      if (cost) parts.push(cost);
      const ws = run.workspace;
      if (ws && ws.applied) parts.push(`applied (${ws.applied.strategy})`);
      item.description = parts.join(' · ');
      item.id = run.id;
      item.contextValue = `run.${run.status}`;
      item.iconPath = icon(vscode, RUN_ICONS, run.status);
      const tokens = run.usage ? `${run.usage.inputTokens} in / ${run.usage.outputTokens} out tokens` : '';
      item.tooltip = [run.id, run.task, tokens, workspaceText(ws),
        run.failure ? `${run.failure.message}\n${run.failure.hint}` : '']
        .filter(Boolean).join('\n');
      return item;
    }
    const step = run.steps.find((s) => s.id === node.stepId);
    if (!step) return new vscode.TreeItem(node.stepId);
    const item = new vscode.TreeItem(step.id, vscode.TreeItemCollapsibleState.None);
    const parts = [step.state];
    if (step.attempts > 1) parts.push(`attempt ${step.attempts}`);
    const gate = stepGate(run, step);
    if (gate) parts.push(gate.kind === 'decision' ? 'decision' : 'approval');
    const commits = this.model.commitsOf ? this.model.commitsOf(run.id, step.id) : [];
    if (commits.length) {
      const plus = commits.reduce((n, c) => n + (c.insertions || 0), 0);
      const minus = commits.reduce((n, c) => n + (c.deletions || 0), 0);
      parts.push(`${commits.length} ${commits.length === 1 ? 'commit' : 'commits'} +${plus} -${minus}`);
    }
    item.description = parts.join(' · ');
    item.id = `${run.id}/${step.id}`;
    item.contextValue = gate ? `step.waiting.${gate.kind}` : `step.${step.state}`;
    item.iconPath = icon(vscode, STEP_ICONS, step.state);
    item.tooltip = [step.role ? `role: ${step.role}` : '', step.output ? firstLine(step.output, 200) : '',
      ...commits.map((c) => `commit ${String(c.sha || '').slice(0, 7)} (attempt ${c.attempt}): ${c.files} files, ` +
        `+${c.insertions} -${c.deletions}`)]
      .filter(Boolean).join('\n') || step.id;
    return item;
  }
}

class InboxTree {
  constructor(vscode, model) {
    this.vscode = vscode;
    this.model = model;
    this.changed = new vscode.EventEmitter();
    this.onDidChangeTreeData = this.changed.event;
    model.on('changed', () => this.changed.fire(undefined));
  }

  getChildren(node) {
    if (node) return [];
    return this.model.inbox().map((gate) => Object.assign({ type: 'gate' }, gate));
  }

  getParent() { return undefined; }

  getTreeItem(node) {
    const vscode = this.vscode;
    const label = node.kind === 'decision' ? node.question : `Approve ${node.stepId}: ${firstLine(node.proposal) || '(proposal)'}`;
    const item = new vscode.TreeItem(label, vscode.TreeItemCollapsibleState.None);
    item.id = `${node.runId}/${node.id}`;
    item.description = `${node.runId} · ${node.stepId}`;
    item.contextValue = `gate.${node.kind}`;
    item.iconPath = new vscode.ThemeIcon(node.kind === 'decision' ? 'question' : 'checklist');
    item.tooltip = node.kind === 'decision' ? `${node.question}\nOptions: ${node.options.join(', ')}` : node.proposal;
    item.command = node.kind === 'decision'
      ? { command: 'drover.answerDecision', title: 'Answer Decision', arguments: [node] }
      : { command: 'drover.editProposal', title: 'Review Proposal', arguments: [node] };
    return item;
  }
}

module.exports = { RunsTree, InboxTree, firstLine, formatCost, workspaceText };
