'use strict';
// A small JSON-RPC 2.0 client for `drover serve`, over the child's stdin/stdout with LSP framing
// (Content-Length headers). Responses are matched by id (they may come out of order);
// notifications are handed to listeners. No dependencies beyond node's standard library.

const { spawn } = require('child_process');
const { EventEmitter } = require('events');

/** An error response from the server: `code`, `message`, `data` as the server sent them. */
class RpcError extends Error {
  constructor(method, error) {
    super(String(error && error.message || 'unknown error'));
    this.name = 'RpcError';
    this.method = method;
    this.code = error && error.code;
    this.data = error && error.data;
  }
}

/** The server could not be started or went away: a message for people, no stack needed. */
class ServerError extends Error {
  constructor(message, kind) {
    super(message);
    this.name = 'ServerError';
    this.kind = kind; // 'missing' | 'spawn' | 'exited' | 'stopped'
  }
}

/** Splits an LSP-framed byte stream into JSON texts. */
class LspReader {
  constructor(onMessage) {
    this.buffer = Buffer.alloc(0);
    this.onMessage = onMessage;
  }

  push(chunk) {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    for (;;) {
      const headerEnd = this.buffer.indexOf('\r\n\r\n');
      if (headerEnd < 0) return;
      const headers = this.buffer.subarray(0, headerEnd).toString('ascii');
      const match = /content-length:\s*(\d+)/i.exec(headers);
      if (!match) { // not a frame we can read: drop the header block and go on
        this.buffer = this.buffer.subarray(headerEnd + 4);
        continue;
      }
      const length = Number(match[1]);
      const start = headerEnd + 4;
      if (this.buffer.length < start + length) return;
      const body = this.buffer.subarray(start, start + length).toString('utf8');
      this.buffer = this.buffer.subarray(start + length);
      this.onMessage(body);
    }
  }
}

/**
 * One `drover serve` process. Events: 'notification' (method, params), 'exit' ({code, signal,
 * expected, stderr}), 'stderr' (text).
 */
class DroverConnection extends EventEmitter {
  constructor(options) {
    super();
    this.command = options.command;
    this.args = options.args || ['serve'];
    this.cwd = options.cwd;
    this.env = options.env || process.env;
    this.nextId = 1;
    this.pending = new Map();
    this.process = undefined;
    this.closed = false;
    this.stopping = false;
    this.stderrTail = '';
  }

  /** Spawns the server; resolves once the process is running, rejects with a ServerError if not. */
  start() {
    return new Promise((resolve, reject) => {
      let child;
      try {
        child = spawn(this.command, this.args, { cwd: this.cwd, env: this.env, stdio: ['pipe', 'pipe', 'pipe'] });
      } catch (error) {
        reject(this.spawnError(error));
        return;
      }
      this.process = child;
      const reader = new LspReader((text) => this.receive(text));
      child.stdout.on('data', (chunk) => reader.push(chunk));
      child.stderr.on('data', (chunk) => {
        const text = chunk.toString('utf8');
        this.stderrTail = (this.stderrTail + text).slice(-2000);
        this.emit('stderr', text);
      });
      child.stdin.on('error', () => { /* the exit handler reports it */ });
      let started = false;
      child.once('spawn', () => { started = true; resolve(); });
      child.once('error', (error) => {
        if (!started) {
          this.closed = true;
          reject(this.spawnError(error));
        }
      });
      child.once('close', (code, signal) => {
        if (!started) return;
        this.closed = true;
        const expected = this.stopping;
        const failure = new ServerError(expected ? 'the Drover server was stopped'
          : `the Drover server exited unexpectedly (${signal ? 'signal ' + signal : 'exit code ' + code})`,
        expected ? 'stopped' : 'exited');
        for (const { reject: rejectRequest } of this.pending.values()) rejectRequest(failure);
        this.pending.clear();
        this.emit('exit', { code, signal, expected, stderr: this.stderrTail.trim() });
      });
    });
  }

  spawnError(error) {
    if (error && error.code === 'ENOENT') {
      return new ServerError(`cannot start the Drover server: '${this.command}' was not found. ` +
        'Install drover or set the "drover.path" setting to its full path.', 'missing');
    }
    if (error && error.code === 'EACCES') {
      return new ServerError(`cannot start the Drover server: '${this.command}' is not executable. ` +
        'Check the "drover.path" setting.', 'missing');
    }
    return new ServerError(`cannot start the Drover server '${this.command}': ${error && error.message}`, 'spawn');
  }

  get pid() { return this.process && this.process.pid; }

  get alive() { return Boolean(this.process) && !this.closed; }

  write(message) {
    const body = Buffer.from(JSON.stringify(Object.assign({ jsonrpc: '2.0' }, message)), 'utf8');
    this.process.stdin.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, 'ascii'), body]));
  }

  /** Sends a request; resolves with its result, rejects with RpcError or ServerError. */
  request(method, params) {
    if (!this.alive) return Promise.reject(new ServerError('the Drover server is not running', 'exited'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      this.emit('sent', { id, method, params });
      this.write(params === undefined ? { id, method } : { id, method, params });
    });
  }

  notify(method, params) {
    if (!this.alive) return;
    this.write(params === undefined ? { method } : { method, params });
  }

  receive(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch (error) {
      this.emit('stderr', `unreadable message from the server: ${text.slice(0, 200)}\n`);
      return;
    }
    if (Array.isArray(message)) { message.forEach((m) => this.dispatch(m)); return; }
    this.dispatch(message);
  }

  dispatch(message) {
    if (!message || typeof message !== 'object') return;
    if (typeof message.method === 'string') {
      if (message.id === undefined) this.emit('notification', message.method, message.params || {});
      return; // the server sends no requests
    }
    const waiter = this.pending.get(message.id);
    if (!waiter) return;
    this.pending.delete(message.id);
    if (message.error) waiter.reject(new RpcError(waiter.method, message.error));
    else waiter.resolve(message.result);
  }

  /** Polite stop: shutdown, exit, then SIGTERM if it lingers. Resolves when the process is gone. */
  async stop(timeoutMs = 3000) {
    if (!this.process || this.closed) return;
    this.stopping = true;
    const gone = new Promise((resolve) => this.process.once('close', resolve));
    try {
      await Promise.race([this.request('shutdown'), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    } catch (error) { /* already going */ }
    this.notify('exit');
    try { this.process.stdin.end(); } catch (error) { /* closed */ }
    const timer = setTimeout(() => { try { this.process.kill('SIGTERM'); } catch (error) { /* gone */ } }, timeoutMs);
    timer.unref();
    await gone;
    clearTimeout(timer);
  }
}

module.exports = { DroverConnection, RpcError, ServerError, LspReader };
