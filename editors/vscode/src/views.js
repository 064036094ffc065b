'use strict';
// Tree views: Runs (runs, expanding to steps) and Inbox (open gates), rendered from the model.

const { gatesOf, childrenSummary } = require('./model');

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

function score(value) { return typeof value === 'number' ? value.toFixed(2) : '?'; }

/** A review verdict (review.verdict data, or an approval's `review`) as a label. */
function verdictText(verdict) {
  return `round ${verdict.round}: score ${score(verdict.score)} (needs ${score(verdict.threshold)}) ` +
    (verdict.passed ? 'passed' : 'below the threshold');
}

/**
 * The history nodes of a step: the review next to its approval, review rounds (findings below each),
 * consensus answers and the winner, then a fan-out step's child runs (run nodes: they expand too).
 */
function stepHistory(model, run, step) {
  const nodes = [];
  const note = (key, label, description, tooltip, findings) =>
    nodes.push({ type: 'note', runId: run.id, stepId: step.id, key, label, description, tooltip, findings });
  if (step.approval && step.approval.review) {
    const review = step.approval.review;
    note('approval-review', `review by ${review.stepId}`, verdictText(review), undefined, review.findings);
  }
  for (const [i, event] of model.historyOf(run.id, step.id).entries()) {
    const data = event.data;
    if (event.type === 'review.verdict') {
      note(`verdict-${i}`, `review of ${data.reviews}`, verdictText(data), undefined, data.findings);
    } else if (event.type === 'review.malformed') {
      note(`malformed-${i}`, `review attempt ${data.attempt}: not a verdict`,
        `${firstLine(data.problem, 80)}: ${firstLine(data.text, 80)}`, data.text);
    } else if (event.type === 'consensus.candidate') {
      // a role that failed (or timed out, asked, was rate limited) gave no answer: its failure says why
      const answer = data.failure ? `no answer (${data.failure.kind}): ${firstLine(data.failure.message, 80)}`
        : firstLine(data.output, 80);
      note(`candidate-${i}`, `candidate ${data.role}`,
        `attempt ${data.attempt}: ${answer}${data.commit ? ` (commit ${data.commit.slice(0, 7)})` : ''}`,
        data.failure ? `${data.failure.message}\n${data.failure.hint || ''}` : data.output);
    } else if (event.type === 'consensus.decided') {
      note(`decided-${i}`, `${data.winner} won (${data.strategy})`,
        `${data.reasons ? firstLine(data.reasons, 80) + ': ' : ''}${firstLine(data.output, 80)}` +
        `${data.changesFrom ? ` · changes from ${data.changesFrom}` : ''}`, data.output);
    }
  }
  for (const childId of step.children || []) {
    nodes.push({ type: 'run', runId: childId, parent: { runId: run.id, stepId: step.id } });
  }
  return nodes;
}

class RunsTree {
  constructor(vscode, model) {
    this.vscode = vscode;
    this.model = model;
    this.changed = new vscode.EventEmitter();
    this.onDidChangeTreeData = this.changed.event;
    model.on('changed', () => this.changed.fire(undefined));
  }

  /** Top level: runs that are no child of a run we hold (a child is listed under its parent's step). */
  getChildren(node) {
    if (!node) {
      return this.model.list().filter((run) => !(run.parentRunId && this.model.get(run.parentRunId)))
        .map((run) => ({ type: 'run', runId: run.id }));
    }
    if (node.type === 'run') {
      const run = this.model.get(node.runId);
      // Expanding a run shows its steps' history: read it once (a Run object does not carry it).
      if (run) this.model.emit('needHistory', run.id);
      return run ? run.steps.map((step) => ({ type: 'step', runId: run.id, stepId: step.id })) : [];
    }
    if (node.type === 'step') {
      const run = this.model.get(node.runId);
      const step = run && run.steps.find((s) => s.id === node.stepId);
      return step ? stepHistory(this.model, run, step) : [];
    }
    if (node.type === 'note') {
      return (node.findings || []).map((finding, i) => ({ type: 'finding', runId: node.runId, stepId: node.stepId,
        key: `${node.key}-${i}`, label: `- ${finding}` }));
    }
    return [];
  }

  getParent(node) {
    if (node.type === 'step' || node.type === 'note') {
      return node.type === 'step' ? { type: 'run', runId: node.runId } : { type: 'step', runId: node.runId, stepId: node.stepId };
    }
    if (node.type === 'run') {
      const run = this.model.get(node.runId);
      return run && run.parentRunId && this.model.get(run.parentRunId)
        ? { type: 'step', runId: run.parentRunId, stepId: run.parentStepId } : undefined;
    }
    return undefined;
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
      const children = this.model.childrenOf(run.id);
      if (children.length) parts.push(childrenSummary(children));
      if (node.parent) {
        const merged = this.model.historyOf(node.parent.runId, node.parent.stepId, 'child.merged')
          .find((event) => event.data.childRunId === run.id);
        if (merged) parts.push(`${merged.data.outcome}${merged.data.commit ? ' ' + merged.data.commit.slice(0, 7) : ''}`);
      }
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
    if (node.type === 'note' || node.type === 'finding') {
      const item = new vscode.TreeItem(node.label, (node.findings || []).length
        ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None);
      item.description = node.description;
      item.tooltip = node.tooltip || [node.label, node.description].filter(Boolean).join(': ');
      item.id = `${run.id}/${node.stepId}/${node.key}`;
      item.contextValue = node.type;
      return item;
    }
    const step = run.steps.find((s) => s.id === node.stepId);
    if (!step) return new vscode.TreeItem(node.stepId);
    const item = new vscode.TreeItem(step.id, stepHistory(this.model, run, step).length
      ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None);
    const parts = [step.state];
    if (step.attempts > 1) parts.push(`attempt ${step.attempts}`);
    const gate = stepGate(run, step);
    if (gate) parts.push(gate.kind === 'decision' ? 'decision' : 'approval');
    if ((step.children || []).length) {
      parts.push(childrenSummary(step.children.map((id) => this.model.get(id) || { status: 'unknown' })));
    }
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

  /** Open gates, then what blocked runs wait on that nobody answers (a parent waiting on its children). */
  getChildren(node) {
    if (node) return [];
    return this.model.inbox().concat(this.model.waits()).map((gate) => Object.assign({ type: 'gate' }, gate));
  }

  getParent() { return undefined; }

  getTreeItem(node) {
    const vscode = this.vscode;
    if (node.kind !== 'decision' && node.kind !== 'approval') return this.waitItem(node);
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
    if (node.kind === 'approval' && node.review) {
      item.description += ` · review ${verdictText(node.review)}`;
      item.tooltip = `${node.proposal}\n\nReview by ${node.review.stepId}, ${verdictText(node.review)}` +
        (node.review.findings || []).map((finding) => `\n- ${finding}`).join('');
    }
    return item;
  }

  /** An item nobody answers: a parent waiting on its child runs (clicking opens them), or a newer kind. */
  waitItem(node) {
    const vscode = this.vscode;
    const children = node.kind === 'children' ? node.children || [] : undefined;
    const item = new vscode.TreeItem(children ? `Waiting on ${childrenSummary(children)}` : `${node.kind} ${node.id}`,
      vscode.TreeItemCollapsibleState.None);
    item.id = `${node.runId}/${node.id}`;
    item.description = `${node.runId} · ${node.stepId}`;
    item.contextValue = children ? 'gate.children' : 'gate.other';
    item.iconPath = new vscode.ThemeIcon(children ? 'type-hierarchy' : 'info');
    item.tooltip = children
      ? children.map((child) => `${child.runId} ${child.status}${child.task ? ': ' + firstLine(child.task) : ''}`).join('\n')
      : `run ${node.runId} waits on a ${node.kind} item, which this version of the extension cannot answer`;
    item.command = { command: 'drover.openRun', title: children ? 'Open Child Run' : 'Open Run', arguments: [node] };
    return item;
  }
}

module.exports = { RunsTree, InboxTree, firstLine, formatCost, workspaceText, verdictText };
