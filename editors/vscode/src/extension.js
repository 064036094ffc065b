'use strict';
// The Drover extension: a `drover serve` child, the runs model, the views and the commands.

const vscode = require('vscode');
const path = require('path');
const { execFile } = require('child_process');
const { DroverConnection, RpcError, ServerError } = require('./rpc');
const { RunsModel, gatesOf, TERMINAL, LIVE } = require('./model');
const { RunsTree, InboxTree, firstLine } = require('./views');
const { RunLog } = require('./logs');

/**
 * Every command: the methods it needs (enabled only if the server lists them all in
 * `capabilities.methods`) and its handler's name. package.json declares exactly these.
 */
const COMMANDS = {
  'drover.runPipeline': { methods: ['pipeline/list', 'run/start'], handler: 'runPipeline' },
  'drover.answerDecision': { methods: ['decision/resolve'], handler: 'answerDecision' },
  'drover.approve': { methods: ['step/approve'], handler: 'approve' },
  'drover.requestChanges': { methods: ['step/requestChanges'], handler: 'requestChanges' },
  'drover.reject': { methods: ['step/reject'], handler: 'reject' },
  'drover.editProposal': { methods: ['run/get', 'step/approve'], handler: 'editProposal' },
  'drover.approveEditedProposal': { methods: ['step/approve'], handler: 'approveEditedProposal' },
  'drover.cancelRun': { methods: ['run/cancel'], handler: 'cancelRun' },
  'drover.retryRun': { methods: ['run/retry'], handler: 'retryRun' },
  'drover.restartRun': { methods: ['run/restart'], handler: 'restartRun' },
  'drover.showLog': { methods: ['step/log'], handler: 'showLog' },
  'drover.showDiff': { methods: ['run/diff'], handler: 'showDiff' },
  'drover.applyRun': { methods: ['run/apply'], handler: 'applyRun' },
  'drover.trustWorkspace': { methods: ['workspace/trust'], handler: 'trustWorkspace' },
  'drover.refresh': { methods: ['run/list'], handler: 'refresh' },
  'drover.openInbox': { methods: [], handler: 'openInbox', noServer: true },
  'drover.openRun': { methods: ['run/get'], handler: 'openRun' },
  'drover.restartServer': { methods: [], handler: 'restartServer', noServer: true },
};

/** The read-only documents of run diffs: drover-diff:/<run>/<step or ->/<base|run|patch|all>/<path>. */
const DIFF_SCHEME = 'drover-diff';

const APPLY_STRATEGIES = [
  { label: 'merge', description: 'git merge --no-ff', detail: "The run's branch is merged; its step commits stay in your history." },
  { label: 'squash', description: 'one commit', detail: 'One commit on your branch with the whole change.' },
  { label: 'patch', description: 'no commit', detail: 'The change is written into your working tree, not committed.' },
];

/** Context keys the code sets (package.json `when` clauses may use only these and VS Code's own). */
const CONTEXT_KEYS = ['drover.connected', 'drover.proposalEditor',
  ...Object.keys(COMMANDS).map((id) => `drover.can.${id.slice('drover.'.length)}`)];

function describeError(error) {
  if (error instanceof RpcError) return `Drover: ${error.message}`;
  if (error instanceof ServerError) return `Drover: ${error.message}`;
  return `Drover: ${error && error.message ? error.message : String(error)}`;
}

class Drover {
  constructor(context) {
    this.context = context;
    this.model = new RunsModel();
    this.connection = undefined;
    this.starting = undefined;
    this.capabilities = undefined;
    this.serverInfo = undefined;
    this.crashWarned = false;
    this.catchingUp = new Map();
    this.logs = new Map(); // runId -> { log: RunLog, channel }
    this.proposals = new Map(); // document uri -> gate
    this.diffs = new Map(); // "<run>/<step or ->" -> the last run/diff result
    this.disposables = [];

    this.serverOutput = vscode.window.createOutputChannel('Drover Server');
    this.runsTree = new RunsTree(vscode, this.model);
    this.inboxTree = new InboxTree(vscode, this.model);
    this.runsView = vscode.window.createTreeView('drover.runs', { treeDataProvider: this.runsTree, showCollapseAll: true });
    this.disposables.push(this.serverOutput, this.runsView,
      vscode.window.createTreeView('drover.inbox', { treeDataProvider: this.inboxTree }));

    this.status = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 50);
    this.status.name = 'Drover';
    this.disposables.push(this.status);
    this.model.on('changed', () => this.updateStatus());
    this.model.on('gateOpened', (gate) => this.announceGate(gate));
    this.model.on('needHistory', (runId) => {
      if (this.model.historyLoaded.has(runId) || !this.connection) return;
      this.model.historyLoaded.add(runId);
      this.loadHistory(runId).catch(() => this.model.historyLoaded.delete(runId));
    });

    for (const [id, spec] of Object.entries(COMMANDS)) {
      this.disposables.push(vscode.commands.registerCommand(id, (...args) => this.run(id, spec, args)));
    }
    this.disposables.push(vscode.workspace.registerTextDocumentContentProvider(DIFF_SCHEME, {
      provideTextDocumentContent: (uri) => this.diffContent(uri),
    }));
    this.disposables.push(vscode.window.onDidChangeActiveTextEditor((editor) => this.updateProposalContext(editor)));
    this.disposables.push(vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration('drover.path')) {
        this.serverOutput.appendLine('drover.path changed; the next command starts the new server');
        this.stopServer();
      }
    }));
    this.setContext('drover.connected', false);
    this.setContext('drover.proposalEditor', false);
    this.updateStatus();
  }

  setContext(key, value) {
    return vscode.commands.executeCommand('setContext', key, value);
  }

  // ---- server lifecycle -------------------------------------------------------------------

  workspaceFolder() {
    const folders = vscode.workspace.workspaceFolders;
    if (!folders || folders.length === 0) throw new Error('open a folder first: Drover works on a workspace folder');
    return folders[0].uri.fsPath;
  }

  command() {
    const configured = vscode.workspace.getConfiguration('drover').get('path');
    return configured && String(configured).trim() ? String(configured).trim() : 'drover';
  }

  /** Starts and initializes the server if it is not running, then catches up. */
  ensureServer() {
    if (this.connection && this.connection.alive && this.capabilities) return Promise.resolve(this.connection);
    if (!this.starting) {
      this.starting = this.startServer().finally(() => { this.starting = undefined; });
    }
    return this.starting;
  }

  async startServer() {
    const workspace = this.workspaceFolder();
    const connection = new DroverConnection({ command: this.command(), cwd: workspace, env: process.env });
    connection.on('stderr', (text) => this.serverOutput.append(text));
    connection.on('notification', (method, params) => this.onNotification(connection, method, params));
    connection.on('exit', (info) => this.onExit(connection, info));
    await connection.start();
    this.connection = connection;
    this.capabilities = undefined;
    let result;
    try {
      result = await connection.request('initialize', {
        protocolVersion: 1, clientInfo: { name: 'vscode-drover', version: '0.1.0' }, workspace,
      });
    } catch (error) {
      connection.stop();
      throw error;
    }
    connection.notify('initialized', {});
    this.capabilities = result.capabilities || {};
    this.serverInfo = result.serverInfo;
    this.crashWarned = false;
    this.serverOutput.appendLine(`connected to ${result.serverInfo && result.serverInfo.name} ` +
      `${result.serverInfo && result.serverInfo.version} (pid ${connection.pid}) in ${result.workspace}`);
    for (const [id, spec] of Object.entries(COMMANDS)) {
      await this.setContext(`drover.can.${id.slice('drover.'.length)}`, this.offers(spec.methods));
    }
    await this.load();
    this.updateStatus();
    await this.setContext('drover.connected', true);
    return connection;
  }

  offers(methods) {
    const offered = (this.capabilities && this.capabilities.methods) || [];
    return methods.every((method) => offered.includes(method));
  }

  /** Loads the run list, and catches up the runs we already knew (after a reconnect). */
  async load() {
    const known = [...this.model.runs.keys()];
    let cursor;
    let pages = 0;
    do {
      const page = await this.request('run/list', cursor ? { limit: 200, cursor } : { limit: 200 });
      for (const run of page.runs) {
        if (!this.model.get(run.id)) this.model.upsert(run, { live: false });
      }
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor && pages < 5);
    for (const runId of known) await this.catchUp(runId, { live: false });
    // run/list leaves proposals out: fetch the full runs that wait on an approval.
    for (const run of this.model.list()) {
      if (gatesOf(run).some((gate) => gate.kind === 'approval' && !gate.proposal)) {
        const full = await this.request('run/get', { runId: run.id });
        this.model.upsert(full.run, { live: false });
      }
    }
    for (const entry of this.logs.values()) {
      const run = this.model.get(entry.log.runId);
      if (run) await entry.log.sync(run);
    }
  }

  /** Pages `run/events` after the last seq held, until nothing more (one catch-up per run at a time). */
  catchUp(runId, { live = true } = {}) {
    const previous = this.catchingUp.get(runId) || Promise.resolve();
    const next = previous.then(async () => {
      for (;;) {
        const held = this.model.get(runId);
        const page = await this.request('run/events', { runId, afterSeq: held ? held.lastSeq : 0, limit: 1000 });
        for (const event of page.events) this.model.apply(event, { live });
        if (!page.more || page.events.length === 0) return;
      }
    });
    const settled = next.catch((error) => this.serverOutput.appendLine(`catching up ${runId}: ${error.message}`));
    this.catchingUp.set(runId, settled);
    return next;
  }

  onNotification(connection, method, params) {
    if (connection !== this.connection) return;
    if (method === 'run/event') {
      if (this.model.apply(params) === 'gap') this.catchUp(params.runId).catch(() => {});
    } else if (method === 'run/log') {
      const entry = this.logs.get(params.runId);
      if (entry) entry.log.live(params);
    }
  }

  onExit(connection, info) {
    if (connection !== this.connection) return;
    this.connection = undefined;
    this.capabilities = undefined;
    for (const entry of this.logs.values()) entry.log.suspend();
    this.setContext('drover.connected', false);
    this.updateStatus();
    if (info.expected) return;
    this.serverOutput.appendLine(`the server exited (code ${info.code}, signal ${info.signal})`);
    if (this.crashWarned) return;
    this.crashWarned = true;
    const detail = info.stderr ? ` Its last words: ${firstLine(info.stderr.split('\n').pop(), 200)}` : '';
    vscode.window.showWarningMessage(
      `Drover: the server exited unexpectedly (${info.signal ? 'signal ' + info.signal : 'exit code ' + info.code}).` +
      ` The next Drover command restarts it.${detail}`, 'Restart Now', 'Show Server Log')
      .then((choice) => {
        if (choice === 'Restart Now') vscode.commands.executeCommand('drover.restartServer');
        if (choice === 'Show Server Log') this.serverOutput.show(true);
      });
  }

  async stopServer() {
    const connection = this.connection;
    for (const entry of this.logs.values()) entry.log.suspend();
    this.connection = undefined;
    this.capabilities = undefined;
    this.setContext('drover.connected', false);
    this.updateStatus();
    if (connection) await connection.stop();
  }

  request(method, params) {
    if (!this.connection) return Promise.reject(new ServerError('the Drover server is not running', 'exited'));
    return this.connection.request(method, params);
  }

  // ---- command plumbing ---------------------------------------------------------------------

  async run(id, spec, args) {
    try {
      if (!spec.noServer) {
        await this.ensureServer();
        if (!this.offers(spec.methods)) {
          const missing = spec.methods.filter((m) => !this.offers([m]));
          vscode.window.showWarningMessage(`Drover: this server does not offer ${missing.join(', ')}, ` +
            `which ${id} needs. Update drover to use it.`);
          return undefined;
        }
      }
      return await this[spec.handler](...args);
    } catch (error) {
      this.showError(error);
      return undefined;
    }
  }

  showError(error) {
    const message = describeError(error);
    this.serverOutput.appendLine(message);
    if (error instanceof ServerError && error.kind === 'missing') {
      vscode.window.showErrorMessage(message, 'Open Settings').then((choice) => {
        if (choice === 'Open Settings') vscode.commands.executeCommand('workbench.action.openSettings', 'drover.path');
      });
    } else {
      vscode.window.showErrorMessage(message);
    }
  }

  info(message, ...buttons) {
    return vscode.window.showInformationMessage(message, ...buttons);
  }

  updateStatus() {
    const status = this.status;
    if (!this.connection && this.model.runs.size === 0) {
      status.text = '$(circle-slash) Drover';
      status.tooltip = 'Drover: the server is not running; click to start it';
      status.command = 'drover.restartServer';
    } else if (!this.connection) {
      status.text = '$(debug-disconnect) Drover: disconnected';
      status.tooltip = 'Drover: the server is not running; click to restart it';
      status.command = 'drover.restartServer';
    } else {
      const live = this.model.liveCount();
      const gates = this.model.inbox().length;
      status.text = `${gates > 0 ? '$(bell)' : live > 0 ? '$(sync~spin)' : '$(check)'} Drover: ` +
        `${live} live · ${gates} ${gates === 1 ? 'gate' : 'gates'}`;
      status.tooltip = `Drover: ${live} live ${live === 1 ? 'run' : 'runs'}, ${gates} open ` +
        `${gates === 1 ? 'gate' : 'gates'}; click to open the inbox`;
      status.command = 'drover.openInbox';
    }
    status.show();
  }

  announceGate(gate) {
    const where = `${gate.stepId} of ${gate.runId}`;
    if (gate.kind === 'decision') {
      this.info(`Drover: ${where} asks: ${gate.question}`, 'Answer…', 'Open Inbox').then((choice) => {
        if (choice === 'Answer…') vscode.commands.executeCommand('drover.answerDecision', gate);
        if (choice === 'Open Inbox') vscode.commands.executeCommand('drover.openInbox');
      });
    } else {
      this.info(`Drover: ${where} waits for approval: ${firstLine(gate.proposal, 80)}`, 'Approve', 'Review…', 'Open Inbox')
        .then((choice) => {
          if (choice === 'Approve') vscode.commands.executeCommand('drover.approve', gate);
          if (choice === 'Review…') vscode.commands.executeCommand('drover.editProposal', gate);
          if (choice === 'Open Inbox') vscode.commands.executeCommand('drover.openInbox');
        });
    }
  }

  // ---- pickers ------------------------------------------------------------------------------

  /** The gate a command acts on: the tree node or message it came from, else a QuickPick. */
  async pickGate(node, kind) {
    if (node && node.runId && (node.type === 'gate' || node.kind === kind) && node.id) {
      if (node.kind !== kind) {
        throw new Error(node.kind === 'decision' || node.kind === 'approval'
          ? `that gate is ${node.kind === 'decision' ? 'a decision' : 'an approval'}`
          : `run ${node.runId} waits on ${node.kind === 'children' ? 'its child runs' : 'a ' + node.kind + ' item'}: ` +
            'nothing to answer there');
      }
      return node;
    }
    if (node && node.type === 'step') {
      const run = this.model.get(node.runId);
      const gate = run && gatesOf(run).find((g) => g.stepId === node.stepId && g.kind === kind);
      if (!gate) throw new Error(`step ${node.stepId} has no open ${kind}`);
      return gate;
    }
    const gates = this.model.inbox().filter((gate) => gate.kind === kind);
    if (gates.length === 0) {
      this.info(`Drover: no open ${kind === 'decision' ? 'decisions' : 'approvals'}`);
      return undefined;
    }
    const picked = await vscode.window.showQuickPick(gates.map((gate) => ({
      label: kind === 'decision' ? gate.question : `${gate.stepId}: ${firstLine(gate.proposal) || '(proposal)'}`,
      description: `${gate.runId} · ${gate.stepId}`, gate,
    })), { placeHolder: kind === 'decision' ? 'Which decision?' : 'Which approval?' });
    return picked && picked.gate;
  }

  /** The run a command acts on: a tree node's run, else a QuickPick of the runs that qualify. */
  async pickRun(node, filter, placeHolder) {
    if (node && node.runId) return this.model.get(node.runId) || (await this.request('run/get', { runId: node.runId })).run;
    const runs = this.model.list().filter(filter);
    if (runs.length === 0) {
      this.info('Drover: no run to act on');
      return undefined;
    }
    const picked = await vscode.window.showQuickPick(runs.map((run) => ({
      label: `${run.pipelineId}: ${firstLine(run.task, 50)}`, description: `${run.status} · ${run.id}`, run,
    })), { placeHolder });
    return picked && picked.run;
  }

  // ---- commands -----------------------------------------------------------------------------

  async runPipeline() {
    const { pipelines } = await this.request('pipeline/list', {});
    const picked = await vscode.window.showQuickPick(pipelines.map((pipeline) => ({
      label: pipeline.name,
      description: `${pipeline.id} · ${pipeline.source}`,
      detail: pipeline.errors.length ? `$(error) ${pipeline.errors.join('; ')}` : (pipeline.description || ''),
      pipeline,
    })), { placeHolder: 'Run which pipeline?', matchOnDescription: true, matchOnDetail: true });
    if (!picked) return undefined;
    const pipeline = picked.pipeline;
    if (pipeline.errors.length) {
      throw new Error(`pipeline ${pipeline.id} cannot run: ${pipeline.errors.join('; ')}`);
    }
    const editor = vscode.window.activeTextEditor;
    const selection = editor && editor.selection && !editor.selection.isEmpty ? editor.document.getText(editor.selection) : '';
    const task = await vscode.window.showInputBox({
      title: `Run ${pipeline.name}`, prompt: 'The task for the pipeline', value: selection,
      placeHolder: 'e.g. Add a --verbose flag',
      validateInput: (text) => (text.trim() ? undefined : 'The task must not be blank'),
    });
    if (task === undefined || !task.trim()) return undefined;
    let result;
    try {
      result = await this.request('run/start', { pipelineId: pipeline.id, task });
    } catch (error) {
      if (!(error instanceof RpcError && error.code === -33003)) throw error;
      if (!(await this.askTrust(error.message))) return undefined;
      result = await this.request('run/start', { pipelineId: pipeline.id, task });
    }
    this.model.upsert(result.run);
    this.info(`Drover: started ${pipeline.id} as ${result.run.id}`, 'Show Log').then((choice) => {
      if (choice === 'Show Log') vscode.commands.executeCommand('drover.showLog', { type: 'run', runId: result.run.id });
    });
    return result.run;
  }

  /** The trust prompt: says what trust means; sends workspace/trust only on the user's yes. */
  async askTrust(reason) {
    const choice = await vscode.window.showWarningMessage('Trust this workspace for Drover?', {
      modal: true,
      detail: `${reason ? reason + '\n\n' : ''}A trusted workspace's own pipelines (.drover/pipelines) and agent ` +
        'configuration can run commands on this machine. Trust it only if you trust its contents.',
    }, 'Trust Workspace');
    if (choice !== 'Trust Workspace') return false;
    await this.request('workspace/trust', { trusted: true });
    this.info('Drover: this workspace is trusted');
    return true;
  }

  async trustWorkspace() {
    return this.askTrust();
  }

  async answerDecision(node) {
    const gate = await this.pickGate(node, 'decision');
    if (!gate) return undefined;
    const choice = await vscode.window.showQuickPick(gate.options, {
      title: gate.question, placeHolder: `${gate.stepId} of ${gate.runId} asks: ${gate.question}`,
    });
    if (choice === undefined) return undefined;
    const { run } = await this.request('decision/resolve', { runId: gate.runId, decisionId: gate.id, choice });
    this.model.upsert(run);
    return run;
  }

  async approve(node) {
    const gate = await this.pickGate(node, 'approval');
    if (!gate) return undefined;
    const { run } = await this.request('step/approve', { runId: gate.runId, approvalId: gate.id });
    this.model.upsert(run);
    return run;
  }

  async requestChanges(node) {
    const gate = await this.pickGate(node, 'approval');
    if (!gate) return undefined;
    const feedback = await vscode.window.showInputBox({
      title: `Request changes to ${gate.stepId}`, prompt: 'What should change? The step re-runs with this feedback.',
      validateInput: (text) => (text.trim() ? undefined : 'The feedback must not be blank'),
    });
    if (feedback === undefined || !feedback.trim()) return undefined;
    const { run } = await this.request('step/requestChanges', { runId: gate.runId, approvalId: gate.id, feedback });
    this.model.upsert(run);
    return run;
  }

  async reject(node) {
    const gate = await this.pickGate(node, 'approval');
    if (!gate) return undefined;
    const reason = await vscode.window.showInputBox({
      title: `Reject ${gate.stepId} (the run fails; Retry re-runs the step with the reason)`,
      prompt: 'Why? (optional)',
    });
    if (reason === undefined) return undefined;
    const params = { runId: gate.runId, approvalId: gate.id };
    if (reason.trim()) params.reason = reason;
    const { run } = await this.request('step/reject', params);
    this.model.upsert(run);
    return run;
  }

  async editProposal(node) {
    const gate = await this.pickGate(node, 'approval');
    if (!gate) return undefined;
    const { run } = await this.request('run/get', { runId: gate.runId });
    this.model.upsert(run);
    const step = run.steps.find((s) => s.id === gate.stepId);
    if (!step || !step.approval || step.approval.id !== gate.id || step.approval.status !== 'pending') {
      throw new Error(`the approval ${gate.id} of ${gate.runId} is no longer open`);
    }
    const document = await vscode.workspace.openTextDocument({ content: step.approval.proposal, language: 'markdown' });
    this.proposals.set(document.uri.toString(), { runId: gate.runId, stepId: gate.stepId, id: gate.id, kind: 'approval' });
    const editor = await vscode.window.showTextDocument(document);
    this.updateProposalContext(editor);
    this.info(`Drover: edit the proposal of ${gate.stepId}, then use "Approve Edited Proposal" (editor title ✓).`);
    return document;
  }

  updateProposalContext(editor) {
    const isProposal = Boolean(editor && editor.document && this.proposals.has(editor.document.uri.toString()));
    this.setContext('drover.proposalEditor', isProposal);
  }

  async approveEditedProposal(uri) {
    const key = uri ? uri.toString() : vscode.window.activeTextEditor && vscode.window.activeTextEditor.document.uri.toString();
    const gate = key && this.proposals.get(key);
    if (!gate) throw new Error('this editor holds no Drover proposal; use "Edit Proposal and Approve" on an approval first');
    const document = vscode.workspace.textDocuments.find((d) => d.uri.toString() === key);
    if (!document) throw new Error('the proposal editor was closed');
    const proposal = document.getText();
    const { run } = await this.request('step/approve', { runId: gate.runId, approvalId: gate.id, proposal });
    this.proposals.delete(key);
    this.updateProposalContext(vscode.window.activeTextEditor);
    this.model.upsert(run);
    this.info(`Drover: approved the edited proposal of ${gate.stepId}`);
    return run;
  }

  async cancelRun(node) {
    const run = await this.pickRun(node, (r) => LIVE.has(r.status), 'Cancel which run?');
    if (!run) return undefined;
    const choice = await vscode.window.showWarningMessage(`Cancel run ${run.id} (${run.pipelineId})?`,
      { modal: true, detail: 'Its running agent is stopped; Retry can resume it later.' }, 'Cancel Run');
    if (choice !== 'Cancel Run') return undefined;
    const result = await this.request('run/cancel', { runId: run.id });
    this.model.upsert(result.run);
    return result.run;
  }

  async retryRun(node) {
    const run = await this.pickRun(node, (r) => r.status === 'failed' || r.status === 'cancelled', 'Retry which run?');
    if (!run) return undefined;
    const result = await this.request('run/retry', { runId: run.id });
    this.model.upsert(result.run);
    return result.run;
  }

  async restartRun(node) {
    const run = await this.pickRun(node, () => true, 'Restart which run?');
    if (!run) return undefined;
    const firstOpen = run.steps.findIndex((s) => s.state !== 'done');
    const candidates = firstOpen < 0 ? run.steps : run.steps.slice(0, firstOpen + 1);
    const preset = node && node.type === 'step' ? node.stepId : undefined;
    let fromStep = preset;
    if (!fromStep) {
      const picked = await vscode.window.showQuickPick(candidates.map((s) => ({ label: s.id, description: s.state })),
        { placeHolder: `Restart ${run.id} from which step? (it and every later step re-run)` });
      if (!picked) return undefined;
      fromStep = picked.label;
    }
    const result = await this.request('run/restart', { runId: run.id, fromStep });
    this.model.upsert(result.run);
    return result.run;
  }

  async showLog(node) {
    const picked = await this.pickRun(node, () => true, 'Show the log of which run?');
    if (!picked) return undefined;
    let entry = this.logs.get(picked.id);
    if (!entry) {
      const channel = vscode.window.createOutputChannel(`Drover: ${picked.id}`);
      const log = new RunLog({
        runId: picked.id, append: (line) => channel.appendLine(line),
        request: (method, params) => this.request(method, params),
      });
      entry = { log, channel };
      this.logs.set(picked.id, entry);
      this.disposables.push(channel);
      channel.show(true);
      // Live lines are already routed to `log` (buffered while it backfills); now read the files.
      const { run } = await this.request('run/get', { runId: picked.id });
      this.model.upsert(run);
      await log.sync(this.model.get(picked.id) || run);
    } else {
      entry.channel.show(true);
    }
    return entry.channel;
  }

  // ---- diff and apply ------------------------------------------------------------------------

  diffUri(runId, stepId, side, filePath) {
    return vscode.Uri.from({ scheme: DIFF_SCHEME, path: `/${runId}/${stepId || '-'}/${side}/${filePath}` });
  }

  /** The content of a drover-diff document: a patch, or a file at the base (`from`) or run (`to`) commit. */
  async diffContent(uri) {
    const [, runId, step, side, ...rest] = uri.path.split('/');
    const filePath = rest.join('/');
    const result = this.diffs.get(`${runId}/${step}`);
    if (!result) return '';
    if (side === 'all') return result.patch;
    const file = result.files.find((f) => (side === 'patch' ? `${f.path}.diff` : f.path) === filePath ||
      (side === 'base' && f.oldPath === filePath));
    if (side === 'patch') return file ? file.patch : '';
    if (!file) return '';
    if (side === 'base') return file.status === 'added' ? '' : this.gitShow(result.from, file.oldPath || file.path);
    return file.status === 'deleted' ? '' : this.gitShow(result.to, file.path);
  }

  /** `git show <sha>:<path>` in the workspace (the run's commits stay on its branch after apply). */
  gitShow(sha, filePath) {
    return new Promise((resolve) => {
      execFile('git', ['show', `${sha}:${filePath}`], { cwd: this.workspaceFolder(), maxBuffer: 64 * 1024 * 1024 },
        (error, stdout) => resolve(error ? '' : stdout));
    });
  }

  /**
   * Reads a run's events once to learn what a Run does not carry: step commits, review rounds,
   * consensus answers, child merges (the model's history).
   */
  async loadHistory(runId) {
    let afterSeq = 0;
    for (;;) {
      const page = await this.request('run/events', { runId, afterSeq, limit: 1000 });
      for (const event of page.events) this.model.recordHistory(event);
      if (!page.more || page.events.length === 0) break;
      afterSeq = page.events[page.events.length - 1].seq;
    }
    this.model.emit('changed', runId);
  }

  /**
   * Show Diff: the files the run (or, from a step node, that step) changed in a QuickPick; a file
   * opens as a native diff of its base and run content, a binary file as its patch; "Whole patch"
   * opens the unified diff.
   */
  async showDiff(node) {
    const run = await this.pickRun(node, (r) => !r.workspace || r.workspace.isolation === 'worktree', 'Show the diff of which run?');
    if (!run) return undefined;
    const stepId = node && node.type === 'step' ? node.stepId : undefined;
    const result = await this.request('run/diff', stepId ? { runId: run.id, stepId } : { runId: run.id });
    this.diffs.set(`${run.id}/${stepId || '-'}`, result);
    this.loadHistory(run.id).catch(() => {});
    const what = stepId ? `step ${stepId} of ${run.id}` : run.id;
    if (result.files.length === 0) {
      this.info(`Drover: ${what} changed nothing${stepId ? '' : ' yet'}.`);
      return result;
    }
    const plus = result.files.reduce((n, f) => n + f.additions, 0);
    const minus = result.files.reduce((n, f) => n + f.deletions, 0);
    const items = result.files.map((file) => ({
      label: file.path,
      description: `${file.status}${file.binary ? ' · binary' : ` · +${file.additions} -${file.deletions}`}`,
      detail: file.oldPath && file.oldPath !== file.path ? `renamed from ${file.oldPath}` : undefined,
      file,
    }));
    items.push({ label: '$(diff) Whole patch', description: `${result.files.length} files · +${plus} -${minus}`, whole: true });
    const picked = await vscode.window.showQuickPick(items, {
      placeHolder: `${what}: ${result.files.length} changed ${result.files.length === 1 ? 'file' : 'files'} ` +
        `(${result.from.slice(0, 7)}..${result.to.slice(0, 7)}); pick one to see its diff`,
      matchOnDescription: true,
    });
    if (!picked) return result;
    if (picked.whole) {
      const document = await vscode.workspace.openTextDocument(this.diffUri(run.id, stepId, 'all', `${run.id}.diff`));
      await vscode.window.showTextDocument(document, { preview: true });
      return result;
    }
    return this.openFileDiff(run.id, stepId, picked.file);
  }

  async openFileDiff(runId, stepId, file) {
    if (file.binary) {
      const document = await vscode.workspace.openTextDocument(this.diffUri(runId, stepId, 'patch', `${file.path}.diff`));
      return vscode.window.showTextDocument(document, { preview: true });
    }
    const left = this.diffUri(runId, stepId, 'base', file.oldPath || file.path);
    const right = this.diffUri(runId, stepId, 'run', file.path);
    return vscode.commands.executeCommand('vscode.diff', left, right, `${file.path} (${runId}: base ↔ run)`,
      { preview: true });
  }

  /** Apply: a done run onto the workspace's branch, with the strategy picked and a modal confirmation. */
  async applyRun(node) {
    const run = await this.pickRun(node, (r) => r.status === 'done' && !(r.workspace && r.workspace.applied) &&
      (!r.workspace || r.workspace.isolation === 'worktree'), 'Apply which run?');
    if (!run) return undefined;
    const strategy = await vscode.window.showQuickPick(APPLY_STRATEGIES,
      { placeHolder: `Apply ${run.id} to your branch how?` });
    if (!strategy) return undefined;
    const ws = run.workspace || {};
    const choice = await vscode.window.showWarningMessage(`Apply run ${run.id} (${run.pipelineId}) with ${strategy.label}?`, {
      modal: true,
      detail: `${strategy.detail}\nFrom ${ws.branch || 'the run\'s branch'} into the branch checked out in ` +
        `${this.workspaceFolder()}. Nothing changes if it does not apply cleanly; the run's worktree is removed ` +
        'afterwards (its branch stays).',
    }, 'Apply');
    if (choice !== 'Apply') return undefined;
    let result;
    try {
      result = await this.request('run/apply', { runId: run.id, strategy: strategy.label });
    } catch (error) {
      if (!(error instanceof RpcError && error.code === -33002)) throw error;
      this.showRefusal(run.id, error);
      return undefined;
    }
    this.model.upsert(result.run);
    const applied = (result.run.workspace && result.run.workspace.applied) || {};
    this.info(`Drover: applied ${run.id} (${applied.strategy || strategy.label}` +
      `${applied.into ? ' into ' + applied.into : ''}${applied.commit ? ', commit ' + applied.commit.slice(0, 7) : ''})`);
    return result.run;
  }

  /** A refused apply: the server's message and the files it names, with a button that opens them. */
  showRefusal(runId, error) {
    const data = error.data || {};
    const files = Array.isArray(data.files) ? data.files : [];
    const message = `Drover: ${runId} was not applied: ${error.message}` +
      (files.length ? ` Files: ${files.join(', ')}` : '');
    this.serverOutput.appendLine(message);
    const buttons = files.length ? ['Open Files'] : [];
    vscode.window.showErrorMessage(message, ...buttons).then(async (choice) => {
      if (choice !== 'Open Files') return;
      for (const file of files) {
        const document = await vscode.workspace.openTextDocument(vscode.Uri.file(path.join(this.workspaceFolder(), file)));
        await vscode.window.showTextDocument(document, { preview: false });
      }
    });
  }

  async refresh() {
    const { runs } = await this.request('run/list', { limit: 200 });
    for (const run of runs) {
      if (!this.model.get(run.id)) this.model.upsert(run, { live: false });
      else await this.catchUp(run.id, { live: false });
    }
  }

  /**
   * Open Run: reveals a run in the Runs view, selected and expanded (a child run under its parent's
   * fan-out step). From an inbox item waiting on child runs: the child picked (the only one at once).
   */
  async openRun(node) {
    let runId = node && node.runId;
    if (node && node.type === 'gate' && node.kind === 'children') {
      const children = node.children || [];
      if (children.length === 0) return this.info('Drover: no child runs yet');
      const picked = children.length === 1 ? { child: children[0] } : await vscode.window.showQuickPick(
        children.map((child) => ({ label: child.runId, description: child.status, detail: firstLine(child.task), child })),
        { placeHolder: `Open which child run of ${node.runId}?` });
      if (!picked) return undefined;
      runId = picked.child.runId;
    } else if (node && node.type === 'gate') {
      runId = node.runId; // a kind this version cannot answer: its run
    }
    if (!runId) {
      const run = await this.pickRun(undefined, () => true, 'Open which run?');
      if (!run) return undefined;
      runId = run.id;
    }
    if (!this.model.get(runId)) this.model.upsert((await this.request('run/get', { runId })).run, { live: false });
    const target = { type: 'run', runId };
    const parent = this.runsTree.getParent(target);
    if (parent) target.parent = { runId: parent.runId, stepId: parent.stepId };
    await this.runsView.reveal(target, { select: true, focus: true, expand: true });
    return runId;
  }

  async openInbox() {
    await vscode.commands.executeCommand('drover.inbox.focus');
  }

  async restartServer() {
    await this.stopServer();
    try {
      await this.ensureServer();
      this.info('Drover: server started');
    } catch (error) {
      this.showError(error);
    }
  }

  async dispose() {
    await this.stopServer();
    for (const disposable of this.disposables) {
      try { disposable.dispose(); } catch (error) { /* already gone */ }
    }
    this.disposables = [];
  }
}

let instance;

function activate(context) {
  instance = new Drover(context);
  context.subscriptions.push({ dispose: () => instance && instance.dispose() });
  // Fill the views at once; a missing binary or folder is reported once, here.
  instance.ensureServer().catch((error) => instance.showError(error));
  return instance;
}

async function deactivate() {
  if (instance) {
    const current = instance;
    instance = undefined;
    await current.dispose();
  }
}

module.exports = { activate, deactivate, Drover, COMMANDS, CONTEXT_KEYS, TERMINAL, DIFF_SCHEME };
