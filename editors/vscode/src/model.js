'use strict';
// The extension's picture of the workspace's runs: Run objects folded from `run/event`s exactly as
// protocol/README.md ("Events") describes, and the open gates derived from them. No vscode here:
// the views render it and the tests drive it directly.

const { EventEmitter } = require('events');

const TERMINAL = new Set(['done', 'failed', 'cancelled']);
const LIVE = new Set(['queued', 'running', 'blocked', 'paused']);

function clone(value) { return value === undefined ? undefined : JSON.parse(JSON.stringify(value)); }

function newStep(info) {
  const step = { id: info.id, kind: info.kind, state: 'pending', attempts: 0 };
  if (info.role !== undefined) step.role = info.role;
  return step;
}

function resetStep(step) {
  for (const key of ['output', 'decision', 'approval', 'startedAt', 'finishedAt']) delete step[key];
  step.state = 'pending';
}

/** Applies one event to a run (or creates the run from `run.created`); returns the run. */
function foldEvent(run, event) {
  const data = event.data || {};
  if (event.type === 'run.created') {
    run = {
      id: event.runId, pipelineId: data.pipelineId, task: data.task, status: 'queued',
      createdAt: event.at, updatedAt: event.at, steps: (data.steps || []).map(newStep),
      usage: { inputTokens: 0, outputTokens: 0, costUSD: 0 }, lastSeq: 0,
    };
    if (data.inputs) run.inputs = clone(data.inputs);
    if (data.parentRunId) { run.parentRunId = data.parentRunId; run.parentStepId = data.parentStepId; }
  }
  if (!run) return run;
  run.lastSeq = event.seq;
  run.updatedAt = event.at;
  const step = data.stepId !== undefined ? run.steps.find((s) => s.id === data.stepId) : undefined;
  const fromIndex = data.fromStep !== undefined ? run.steps.findIndex((s) => s.id === data.fromStep) : -1;
  switch (event.type) {
    case 'run.started': run.status = 'running'; break;
    case 'step.started':
      if (step) {
        step.state = 'working'; step.attempts = data.attempt; delete step.output;
        step.startedAt = event.at; delete step.finishedAt;
      }
      run.status = 'running'; run.currentStep = data.stepId;
      break;
    case 'step.completed':
      if (step) { step.state = 'done'; step.output = data.output; step.finishedAt = event.at; }
      break;
    case 'step.failed':
      if (step) { step.state = 'failed'; step.finishedAt = event.at; }
      if (!run.failure && data.failure) run.failure = clone(data.failure);
      break;
    case 'step.interrupted':
      if (step) step.state = 'pending';
      break;
    case 'step.skipped':
      if (step) { step.state = 'skipped'; delete step.output; step.finishedAt = event.at; }
      break;
    case 'decision.requested':
      if (step) {
        step.state = 'waiting';
        step.decision = { id: data.decisionId, question: data.question, options: clone(data.options) || [] };
      }
      run.status = 'blocked';
      break;
    case 'decision.resolved':
      if (step) {
        if (step.decision && step.decision.id === data.decisionId) step.decision.chosen = data.choice;
        step.state = 'pending';
      }
      run.status = 'running';
      break;
    case 'approval.requested':
      if (step) {
        step.state = 'waiting';
        step.approval = { id: data.approvalId, status: 'pending', proposal: data.proposal };
        if (data.review) step.approval.review = clone(data.review);
      }
      run.status = 'blocked';
      break;
    case 'approval.resolved':
      if (step && step.approval && step.approval.id === data.approvalId) {
        step.approval.status = data.status;
        if (data.feedback !== undefined) step.approval.feedback = data.feedback;
        if (data.proposal !== undefined) step.approval.proposal = data.proposal;
      }
      if (data.status === 'approved') run.status = 'running';
      else if (data.status === 'changes_requested') { if (step) step.state = 'pending'; run.status = 'running'; }
      else if (data.status === 'rejected' && step) step.state = 'failed';
      break;
    case 'usage.recorded':
      run.usage.inputTokens += data.inputTokens || 0;
      run.usage.outputTokens += data.outputTokens || 0;
      run.usage.costUSD += data.costUSD || 0;
      break;
    case 'run.retried':
    case 'run.restarted':
      if (fromIndex >= 0) run.steps.slice(fromIndex).forEach(resetStep);
      delete run.failure;
      run.status = 'running';
      break;
    case 'review.rework': {
      // the reviewed step through the reviewer re-run
      const from = run.steps.findIndex((s) => s.id === data.reviews);
      const through = run.steps.findIndex((s) => s.id === data.stepId);
      if (from >= 0 && through >= from) run.steps.slice(from, through + 1).forEach(resetStep);
      run.status = 'running'; run.currentStep = data.reviews;
      break;
    }
    case 'run.children':
      // the fan-out step waits on its child runs; a child with `replaces` takes that child's place
      if (step) {
        step.children = step.children || [];
        for (const child of data.children || []) {
          const at = child.replaces ? step.children.indexOf(child.replaces) : -1;
          if (at >= 0) step.children[at] = child.runId; else step.children.push(child.runId);
        }
        step.state = 'waiting';
      }
      run.status = 'blocked';
      break;
    case 'run.completed': run.status = 'done'; delete run.currentStep; break;
    case 'run.workspace': run.workspace = clone(data); break;
    case 'run.applied':
      run.workspace = Object.assign({}, run.workspace, {
        applied: Object.assign({ strategy: data.strategy }, data.into ? { into: data.into } : {},
          data.commit ? { commit: data.commit } : {}),
      });
      if (data.worktreeRemoved) run.workspace.removed = true;
      break;
    case 'run.failed':
      run.status = 'failed';
      if (!run.failure && data.failure) run.failure = clone(data.failure);
      break;
    case 'run.cancelled':
      run.status = 'cancelled';
      if (!run.failure) run.failure = { kind: 'cancelled', message: data.reason || 'cancelled', hint: '' };
      for (const s of run.steps) if (s.state === 'working' || s.state === 'waiting') s.state = 'failed';
      break;
    default: break; // unknown event types are ignored (protocol: Versioning)
  }
  return run;
}

/** The open gates of a run, as inbox items. */
function gatesOf(run) {
  const items = [];
  if (run.status !== 'blocked') return items;
  for (const step of run.steps) {
    if (step.state !== 'waiting') continue;
    if (step.decision && step.decision.chosen === undefined) {
      items.push({ runId: run.id, stepId: step.id, kind: 'decision', id: step.decision.id,
        question: step.decision.question, options: step.decision.options });
    } else if (step.approval && step.approval.status === 'pending') {
      const item = { runId: run.id, stepId: step.id, kind: 'approval', id: step.approval.id,
        proposal: step.approval.proposal };
      if (step.approval.review) item.review = step.approval.review;
      items.push(item);
    }
  }
  return items;
}

/** Events a Run object does not carry, kept per run so the views can show their history. */
const HISTORY_TYPES = new Set(['step.committed', 'review.verdict', 'review.malformed', 'consensus.candidate',
  'consensus.decided', 'child.merged']);

/** "2 child runs: 1 done, 1 running" for runs (or inbox children `{runId, status}`). */
function childrenSummary(children) {
  const order = ['done', 'running', 'blocked', 'queued', 'paused', 'failed', 'cancelled'];
  const counts = new Map();
  for (const child of children) {
    const status = child.status || 'unknown';
    counts.set(status, (counts.get(status) || 0) + 1);
    if (!order.includes(status)) order.push(status);
  }
  const parts = order.filter((status) => counts.has(status)).map((status) => `${counts.get(status)} ${status}`);
  return `${children.length} child ${children.length === 1 ? 'run' : 'runs'}: ${parts.join(', ')}`;
}

/**
 * Runs by id, kept current from events. Emits 'changed' (runId) after any change, and
 * 'gateOpened' (item) when a gate opens live (not for gates found when loading).
 */
class RunsModel extends EventEmitter {
  constructor() {
    super();
    this.runs = new Map();
    this.history = new Map(); // runId -> Map(seq -> event) of HISTORY_TYPES: not part of a Run object
    this.historyLoaded = new Set(); // runs whose whole history was read (loadHistory)
  }

  /** Remembers an event of a history type (live or from a run/events page). */
  recordHistory(event) {
    if (!HISTORY_TYPES.has(event.type)) return;
    if (!this.history.has(event.runId)) this.history.set(event.runId, new Map());
    this.history.get(event.runId).set(event.seq, { type: event.type, data: clone(event.data || {}) });
  }

  /** A step's recorded history events ({type, data}, of `type` when given), oldest first. */
  historyOf(runId, stepId, type) {
    const held = this.history.get(runId);
    if (!held) return [];
    return [...held.entries()].sort((a, b) => a[0] - b[0]).map(([, event]) => event)
      .filter((event) => event.data.stepId === stepId && (!type || event.type === type));
  }

  /** The commits a step of a run made on the run's branch, oldest first. */
  commitsOf(runId, stepId) {
    return this.historyOf(runId, stepId, 'step.committed').map((event) => event.data);
  }

  /** The child runs of a run we hold: in the order its fan-out steps list them, then others. */
  childrenOf(runId) {
    const run = this.runs.get(runId);
    const order = run ? run.steps.flatMap((step) => step.children || []) : [];
    const rank = (id) => (order.includes(id) ? order.indexOf(id) : order.length);
    return [...this.runs.values()].filter((r) => r.parentRunId === runId)
      .sort((a, b) => rank(a.id) - rank(b.id) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /**
   * What blocked runs wait on that nobody answers: a fan-out step waiting on its child runs
   * (as inbox items of kind `children`, each child's status as we hold it), oldest run first.
   */
  waits() {
    return this.list().reverse().filter((run) => run.status === 'blocked').flatMap((run) => run.steps
      .filter((step) => step.state === 'waiting' && (step.children || []).length
        && !gatesOf(run).some((gate) => gate.stepId === step.id))
      .map((step) => ({
        runId: run.id, stepId: step.id, kind: 'children', id: `c-${step.id}-${step.attempts}`,
        children: step.children.map((id) => {
          const child = this.runs.get(id);
          return child ? { runId: id, status: child.status, task: child.task } : { runId: id, status: 'unknown' };
        }),
      })));
  }

  clear() { this.runs.clear(); this.emit('changed'); }

  get(runId) { return this.runs.get(runId); }

  /** Runs newest first (ids sort by creation time). */
  list() { return [...this.runs.values()].sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)); }

  /** Every open gate, oldest run first. */
  inbox() {
    return this.list().reverse().flatMap(gatesOf);
  }

  liveCount() { return this.list().filter((r) => LIVE.has(r.status)).length; }

  /** Takes a Run from the server unless we already hold a newer one. */
  upsert(run, { live = true } = {}) {
    const held = this.runs.get(run.id);
    if (held && held.lastSeq > run.lastSeq) return held;
    const before = held ? new Set(gatesOf(held).map((g) => g.id)) : undefined;
    if (held && held.lastSeq === run.lastSeq) {
      // Same state; keep texts only the fuller object has (run/list omits outputs and proposals).
      run = mergeTexts(clone(run), held);
    } else {
      run = clone(run);
    }
    this.runs.set(run.id, run);
    this.emit('changed', run.id);
    // A response may carry events not yet notified (the gate's event then comes as 'old').
    if (live && before) for (const gate of gatesOf(run)) if (!before.has(gate.id)) this.emit('gateOpened', gate);
    return run;
  }

  /**
   * Applies an event if it is the next one of its run. Returns 'applied', 'old' (already have it)
   * or 'gap' (an earlier event is missing: the caller catches up with run/events).
   */
  apply(event, { live = true } = {}) {
    const held = this.runs.get(event.runId);
    const lastSeq = held ? held.lastSeq : 0;
    this.recordHistory(event);
    if (event.seq <= lastSeq) return 'old';
    if (event.seq !== lastSeq + 1) return 'gap';
    const before = held ? new Set(gatesOf(held).map((g) => g.runId + '/' + g.id)) : new Set();
    const run = foldEvent(held, event);
    if (!run) return 'gap';
    this.runs.set(run.id, run);
    this.emit('changed', run.id);
    if (live) {
      for (const gate of gatesOf(run)) {
        if (!before.has(gate.runId + '/' + gate.id)) this.emit('gateOpened', gate);
      }
    }
    return 'applied';
  }
}

function mergeTexts(run, held) {
  for (const step of run.steps) {
    const old = held.steps.find((s) => s.id === step.id);
    if (!old) continue;
    if (step.output === undefined && old.output !== undefined && step.state === 'done') step.output = old.output;
    if (step.approval && old.approval && step.approval.id === old.approval.id && !step.approval.proposal) {
      step.approval.proposal = old.approval.proposal;
    }
  }
  return run;
}

module.exports = { RunsModel, foldEvent, gatesOf, childrenSummary, TERMINAL, LIVE };
