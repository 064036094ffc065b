'use strict';
// Test harness: makes `require('vscode')` load test/fake-vscode.js, then activates the real
// extension in a fresh git workspace with a fresh DROVER_CONFIG_DIR against the real `drover`
// binary ($DROVER_BIN, default `drover` on PATH).

const Module = require('module');
const path = require('path');
const fs = require('fs');
const os = require('os');
const { execFileSync } = require('child_process');

const FAKE = path.join(__dirname, 'fake-vscode.js');
const originalResolve = Module._resolveFilename;
Module._resolveFilename = function resolve(request, ...rest) {
  if (request === 'vscode') return FAKE;
  return originalResolve.call(this, request, ...rest);
};

const vscode = require('vscode');
const fake = vscode.__test;
const extension = require('../src/extension');

const DROVER_BIN = process.env.DROVER_BIN || 'drover';

/** Waits until `condition()` is truthy (polling, with a deadline); returns its value. */
async function waitFor(condition, description, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await condition();
    if (last) return last;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}` +
        (last instanceof Error ? ` (last error: ${last.message})` : ''));
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function tempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A fresh git workspace with the given workspace pipelines ({id: definition}). */
function makeWorkspace(pipelines = {}) {
  const ws = tempDir('drover-vscode-ws-');
  execFileSync('git', ['init', '-q', ws]);
  if (Object.keys(pipelines).length) {
    fs.mkdirSync(path.join(ws, '.drover', 'pipelines'), { recursive: true });
    for (const [id, definition] of Object.entries(pipelines)) {
      fs.writeFileSync(path.join(ws, '.drover', 'pipelines', `${id}.json`), JSON.stringify(definition, null, 2));
    }
  }
  return ws;
}

/** A one-step workspace pipeline played by the fake agent. */
function fakePipeline(script, extra = {}) {
  return {
    name: extra.name || 'Test pipeline', description: extra.description || 'a fake-agent pipeline for tests',
    steps: [Object.assign({ id: 's', kind: 'agent', role: 'x', prompt: 'p', agent: { driver: 'fake', script } },
      extra.step || {})],
  };
}

/**
 * Activates the extension in a fresh workspace. Options: pipelines, droverPath, waitConnected.
 * Returns { drover (the extension's controller), ui (fake-vscode test side), ws, close() }.
 */
async function activate({ pipelines = {}, droverPath = DROVER_BIN, waitConnected = true } = {}) {
  fake.reset();
  const ws = makeWorkspace(pipelines);
  const configDir = tempDir('drover-vscode-config-');
  process.env.DROVER_CONFIG_DIR = configDir;
  fake.setWorkspace(ws);
  fake.state.config.drover = { path: droverPath };
  const context = { subscriptions: [], extensionPath: path.join(__dirname, '..') };
  const drover = extension.activate(context);
  const close = async () => {
    const pid = drover.connection && drover.connection.pid;
    await extension.deactivate();
    for (const disposable of context.subscriptions) disposable.dispose();
    if (pid) await waitFor(() => !isAlive(pid), `server ${pid} to exit`);
    // The workspace's engine outlives the server (until its idle timeout) and still writes in .drover
    // (its log, its store): stop it, which returns once it has exited, before removing the folder. Also
    // when no server is connected now (one killed by the test, a drover path that was wrong at first).
    try {
      execFileSync(DROVER_BIN, ['engine', 'stop', '--quiet', '--workspace', ws],
        { env: Object.assign({}, process.env, { DROVER_CONFIG_DIR: configDir }), stdio: 'ignore', timeout: 30000 });
    } catch (error) { /* no binary at DROVER_BIN: the suite fails elsewhere, saying so */ }
    fs.rmSync(ws, { recursive: true, force: true });
    fs.rmSync(configDir, { recursive: true, force: true });
  };
  if (waitConnected) {
    // A server that does not connect still leaves nothing behind: its engine and folders go too.
    await waitFor(() => {
      const errors = fake.messages('error');
      if (errors.length) throw new Error(`the extension showed errors: ${JSON.stringify(errors)}`);
      return fake.state.context.get('drover.connected') === true;
    }, 'the server to connect').catch(async (error) => { await close(); throw error; });
  }
  return { drover, ui: fake, ws, configDir, close };
}

function isAlive(pid) {
  try { process.kill(pid, 0); return true; } catch (error) { return false; }
}

/** Runs a command as the Command Palette (or a menu, with a tree node argument) would. */
function run(id, ...args) {
  return vscode.commands.executeCommand(id, ...args);
}

/** Reads a run back from the server, independently of the views. */
async function serverRun(drover, runId) {
  return (await drover.request('run/get', { runId })).run;
}

/** Starts a pipeline the way a user does: the command, the QuickPick, the InputBox. */
async function startPipeline(ui, pipelineLabel, task) {
  const done = run('drover.runPipeline');
  const pick = await ui.nextPrompt('quickPick');
  pick.pick(pipelineLabel);
  const box = await ui.nextPrompt('inputBox');
  box.type(task);
  const started = await done;
  if (!started) throw new Error(`the run did not start; errors: ${JSON.stringify(ui.messages('error'))}`);
  return started;
}

module.exports = {
  vscode, fake, extension, DROVER_BIN, waitFor, makeWorkspace, fakePipeline, activate, run, serverRun,
  startPipeline, isAlive, tempDir,
};
