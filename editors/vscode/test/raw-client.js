'use strict';
// A bare NDJSON client of `drover serve`, independent of the extension: a test uses it as "another
// editor" that changes runs while the extension's server is down.

const { spawn } = require('child_process');
const readline = require('readline');

function rawClient(bin, workspace) {
  const child = spawn(bin, ['serve'], { cwd: workspace, env: process.env, stdio: ['pipe', 'pipe', 'inherit'] });
  const pending = new Map();
  const watchers = [];
  let nextId = 1;
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    const message = JSON.parse(line);
    if (message.id !== undefined && pending.has(message.id)) {
      const { resolve, reject } = pending.get(message.id);
      pending.delete(message.id);
      if (message.error) reject(new Error(message.error.message));
      else resolve(message.result);
    } else if (message.method) {
      for (const watcher of [...watchers]) watcher(message);
    }
  });
  const exited = new Promise((resolve) => child.once('close', resolve));
  return {
    request(method, params) {
      const id = nextId++;
      child.stdin.write(JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n');
      return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
    },
    /** Resolves with the first notification matching `predicate`. */
    notification(predicate, timeoutMs = 10000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no matching notification')), timeoutMs);
        const watcher = (message) => {
          if (!predicate(message)) return;
          clearTimeout(timer);
          watchers.splice(watchers.indexOf(watcher), 1);
          resolve(message);
        };
        watchers.push(watcher);
      });
    },
    async close() {
      await this.request('shutdown');
      child.stdin.write(JSON.stringify({ jsonrpc: '2.0', method: 'exit' }) + '\n');
      child.stdin.end();
      return exited;
    },
  };
}

module.exports = { rawClient };
