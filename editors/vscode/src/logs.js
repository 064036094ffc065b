'use strict';
// A run's log as one text stream: backfilled from `step/log` (the attempts' log files, paged by
// byte offset) and followed live from `run/log`, joined so that no line is doubled or lost.
//
// The join (protocol/README.md, "Logs"): live lines are buffered while the backfill reads each
// attempt's file up to the offset N where it ends; afterwards a live line is shown only if its
// `offset` (where it starts in the file) is >= N. A server that does not send `offset` gets the
// fallback: every live line after the backfill is shown.

/**
 * A log file line as the live stream shows it: agent line protocol `log` as its text, `progress`
 * as "progress 40% message"; other protocol messages (usage, decision, result) have no live line
 * and give null; anything else (plain output, stderr) is shown as it is.
 */
function renderLogLine(line) {
  if (line.endsWith('\r')) line = line.slice(0, -1);
  if (!/^\s*\{/.test(line)) return line;
  let message;
  try { message = JSON.parse(line); } catch (error) { return line; }
  if (!message || typeof message !== 'object' || typeof message.type !== 'string') return line;
  switch (message.type) {
    case 'log': return typeof message.text === 'string' ? message.text : line;
    case 'progress': {
      const parts = ['progress'];
      if (typeof message.fraction === 'number') parts.push(`${Math.round(message.fraction * 100)}%`);
      if (typeof message.message === 'string') parts.push(message.message);
      return parts.join(' ');
    }
    case 'usage': case 'decision': case 'result': return null;
    default: return line;
  }
}

function keyOf(stepId, attempt) { return `${stepId}#${attempt}`; }

class RunLog {
  /**
   * @param {object} options
   * @param {string} options.runId
   * @param {(method: string, params: object) => Promise<any>} options.request  step/log caller
   * @param {(line: string) => void} options.append  where lines go (an OutputChannel's appendLine)
   * @param {number} [options.pageBytes]  step/log `limit`
   */
  constructor({ runId, request, append, pageBytes = 65536 }) {
    this.runId = runId;
    this.request = request;
    this.append = append;
    this.pageBytes = pageBytes;
    this.files = new Map(); // key -> { stepId, attempt, next, liveMax, noOffsets }
    this.filling = 0;
    // Live lines wait in `buffered` until a sync has read the files: before the first one, and
    // again after suspend() (the connection was lost, so lines may be missing from the stream).
    this.needsSync = true;
    this.buffered = [];
    this.lastKey = undefined;
    this.lineCount = 0;
  }

  file(stepId, attempt) {
    const key = keyOf(stepId, attempt);
    let state = this.files.get(key);
    if (!state) {
      state = { stepId, attempt, next: 0, liveMax: -1, noOffsets: false };
      this.files.set(key, state);
    }
    return state;
  }

  emitLine(state, text) {
    const key = keyOf(state.stepId, state.attempt);
    if (this.lastKey !== key) {
      this.append(`── ${state.stepId} (attempt ${state.attempt}) ──`);
      this.lastKey = key;
    }
    this.append(text);
    this.lineCount += 1;
  }

  /** A `run/log` notification of any run; lines of other runs are ignored. */
  live(params) {
    if (!params || params.runId !== this.runId) return;
    if (this.filling > 0 || this.needsSync) { this.buffered.push(params); return; }
    this.show(params);
  }

  /** The live stream broke (the server went away): hold live lines until the next sync(). */
  suspend() {
    this.needsSync = true;
  }

  show(params) {
    const state = this.file(params.stepId, params.attempt);
    if (typeof params.offset === 'number') {
      if (params.offset < state.next || params.offset <= state.liveMax) return; // already shown
      state.liveMax = params.offset;
    } else {
      state.noOffsets = true;
    }
    for (const line of String(params.text).split('\n')) this.emitLine(state, line);
  }

  /**
   * Reads what the log files hold beyond what was shown, for every attempt of the run's steps
   * (`run` as the model holds it), then shows the live lines that came meanwhile.
   */
  async sync(run) {
    this.filling += 1;
    try {
      for (const step of run.steps) {
        for (let attempt = 1; attempt <= (step.attempts || 0); attempt += 1) {
          const state = this.file(step.id, attempt);
          if (state.noOffsets && state.next > 0) continue; // position unknown: re-reading would double lines
          await this.fill(state);
        }
      }
    } finally {
      this.filling -= 1;
    }
    if (this.filling === 0) {
      this.needsSync = false;
      const buffered = this.buffered;
      this.buffered = [];
      for (const params of buffered) this.show(params);
    }
  }

  async fill(state) {
    let carry = '';
    let offset = state.next;
    for (;;) {
      const page = await this.request('step/log', {
        runId: this.runId, stepId: state.stepId, attempt: state.attempt, offset, limit: this.pageBytes,
      });
      const text = carry + (page.text || '');
      const lines = text.split('\n');
      carry = lines.pop();
      let start = state.next;
      for (const line of lines) {
        const rendered = renderLogLine(line);
        if (rendered !== null && start > state.liveMax) this.emitLine(state, rendered);
        start += Buffer.byteLength(line, 'utf8') + 1;
      }
      state.next = start;
      const moved = page.nextOffset > offset;
      offset = page.nextOffset;
      if (page.eof || !moved) {
        if (page.eof && carry) {
          const rendered = renderLogLine(carry);
          if (rendered !== null && state.next > state.liveMax) this.emitLine(state, rendered);
          state.next += Buffer.byteLength(carry, 'utf8');
        }
        return;
      }
    }
  }
}

module.exports = { RunLog, renderLogLine };
