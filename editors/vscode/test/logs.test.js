'use strict';
// Show Log: an OutputChannel per run, backfilled from step/log and followed live from run/log,
// joined by byte offset so that no line is doubled or lost.

const test = require('node:test');
const assert = require('node:assert/strict');
const { activate, run, waitFor, serverRun, startPipeline, fakePipeline } = require('./helpers');
const { RunLog, renderLogLine } = require('../src/logs');

/** The channel's lines without the "── step (attempt n) ──" headers. */
function body(channel) {
  return channel.lines().filter((line) => !/^── .* ──$/.test(line));
}

function spamLines(count) {
  return Array.from({ length: count }, (_, i) => `spam ${i + 1}/${count}`);
}

test('the log of a finished 5,000-line step is complete in the OutputChannel, each line once', async (t) => {
  const { drover, ui, close } = await activate({
    pipelines: { spam: fakePipeline([[{ spam: 5000 }, { result: 'spammed' }]], { name: 'Spam' }) },
  });
  t.after(close);
  await drover.request('workspace/trust', { trusted: true }); // the trust prompt has its own test
  const started = await startPipeline(ui, 'Spam', 'make noise');
  await waitFor(async () => (await serverRun(drover, started.id)).status === 'done', 'the run to finish');
  const channel = await run('drover.showLog', { type: 'run', runId: started.id });
  assert.equal(channel.name, `Drover: ${started.id}`);
  assert.ok(channel.shown > 0, 'the channel is shown');
  assert.deepEqual(body(channel), spamLines(5000));
  assert.equal(channel.lines()[0], '── s (attempt 1) ──');
  // Showing it again reuses the channel and adds nothing.
  assert.equal(await run('drover.showLog', { type: 'run', runId: started.id }), channel);
  assert.equal(body(channel).length, 5000);
});

test('a log opened mid-run is backfilled, then follows live lines: nothing doubled or lost', async (t) => {
  const { drover, ui, close } = await activate({
    pipelines: {
      pause: fakePipeline([[{ spam: 2000 }, { sleep: 2 }, { say: 'after the pause' }, { spam: 3000 }, { result: 'ok' }]],
        { name: 'Pause' }),
    },
  });
  t.after(close);
  await drover.request('workspace/trust', { trusted: true });
  let seenFirstHalf = false;
  drover.connection.on('notification', (method, params) => {
    if (method === 'run/log' && params.text === 'spam 2000/2000') seenFirstHalf = true;
  });
  const started = await startPipeline(ui, 'Pause', 'pause');
  await waitFor(() => seenFirstHalf, 'the first 2,000 lines');
  const channel = await run('drover.showLog', { type: 'run', runId: started.id });
  assert.deepEqual(body(channel), spamLines(2000), 'the backfill holds what was written before the log opened');
  await waitFor(async () => (await serverRun(drover, started.id)).status === 'done', 'the run to finish');
  const expected = [...spamLines(2000), 'after the pause', ...spamLines(3000)];
  await waitFor(() => body(channel).length >= expected.length, 'every live line');
  assert.deepEqual(body(channel), expected);
});

test('a log opened while lines stream in joins by offset (needs a server whose run/log has offset)', async (t) => {
  const { drover, ui, close } = await activate({
    pipelines: { flood: fakePipeline([[{ say: 'go' }, { sleep: 0.5 }, { spam: 20000 }, { result: 'ok' }]], { name: 'Flood' }) },
  });
  t.after(close);
  await drover.request('workspace/trust', { trusted: true });
  let offsets;
  let streaming = false;
  drover.connection.on('notification', (method, params) => {
    if (method !== 'run/log') return;
    if (offsets === undefined) offsets = typeof params.offset === 'number';
    if (params.text === 'spam 1/20000') streaming = true;
  });
  const started = await startPipeline(ui, 'Flood', 'flood');
  await waitFor(() => offsets !== undefined, 'the first live line');
  if (!offsets) {
    t.skip('this drover does not send run/log offset yet: the join falls back to appending live lines');
    return;
  }
  await waitFor(() => streaming, 'the flood to start');
  const channel = await run('drover.showLog', { type: 'run', runId: started.id });
  await waitFor(async () => (await serverRun(drover, started.id)).status === 'done', 'the run to finish');
  const expected = ['go', ...spamLines(20000)];
  await waitFor(() => body(channel).length >= expected.length, 'every line').catch((error) => {
    const shown = new Set(body(channel));
    const missing = expected.filter((line) => !shown.has(line));
    throw new Error(`${error.message}: ${body(channel).length} lines shown, ${missing.length} missing ` +
      `(first: ${JSON.stringify(missing.slice(0, 3))})`);
  });
  assert.deepEqual(body(channel), expected);
});

// The join itself, against a scripted step/log, with the live lines a server with offsets sends:
// lines arriving during the backfill, lines the backfill already read, a page cut mid-line.
test('RunLog joins backfill and live lines by offset, across pages cut mid-line and attempts', async () => {
  const raw = (text) => JSON.stringify({ text, type: 'log' });
  const file = ['one', 'two', 'three', 'four'].map(raw).map((l) => l + '\n').join('')
    + JSON.stringify({ output: 'x', type: 'result' }) + '\n';
  const offsetOf = (n) => Buffer.byteLength(['one', 'two', 'three', 'four'].slice(0, n).map(raw).map((l) => l + '\n').join(''));
  const lines = [];
  const calls = [];
  let log;
  const request = async (method, params) => {
    calls.push(params);
    assert.equal(method, 'step/log');
    if (params.stepId === 's' && params.attempt === 1) {
      // While the backfill pages, the live stream delivers 'three' (already in the file) and a new 'five'.
      if (calls.length === 1) {
        log.live({ runId: 'r', stepId: 's', attempt: 1, stream: 'agent', text: 'three', offset: offsetOf(2) });
        log.live({ runId: 'r', stepId: 's', attempt: 2, stream: 'agent', text: 'again', offset: 0 });
      }
      const bytes = Buffer.from(file).subarray(params.offset, params.offset + params.limit);
      const next = params.offset + bytes.length;
      return { text: bytes.toString('utf8'), nextOffset: next, eof: next >= Buffer.byteLength(file) };
    }
    return { text: '', nextOffset: 0, eof: false }; // attempt 2 is live and has written nothing yet
  };
  log = new RunLog({ runId: 'r', request, append: (line) => lines.push(line), pageBytes: 20 });
  await log.sync({ steps: [{ id: 's', attempts: 2 }] });
  log.live({ runId: 'r', stepId: 's', attempt: 2, stream: 'agent', text: 'again', offset: 0 }); // a repeat
  log.live({ runId: 'other', stepId: 's', attempt: 2, stream: 'agent', text: 'not ours', offset: 99 });
  log.live({ runId: 'r', stepId: 's', attempt: 2, stream: 'stderr', text: 'warning: x', offset: 20 });
  assert.deepEqual(lines, ['── s (attempt 1) ──', 'one', 'two', 'three', 'four', '── s (attempt 2) ──', 'again',
    'warning: x']);
  assert.ok(calls.length > 5, 'the 20-byte pages cut lines, and were joined');
});

test('RunLog without offsets (an older server) appends every live line after the backfill', async () => {
  const lines = [];
  const log = new RunLog({
    runId: 'r', append: (line) => lines.push(line),
    request: async (method, params) => (params.offset === 0
      ? { text: `${JSON.stringify({ type: 'log', text: 'old' })}\n`, nextOffset: 27, eof: false }
      : { text: '', nextOffset: params.offset, eof: false }),
  });
  await log.sync({ steps: [{ id: 's', attempts: 1 }] });
  log.live({ runId: 'r', stepId: 's', attempt: 1, stream: 'agent', text: 'new' });
  assert.deepEqual(lines, ['── s (attempt 1) ──', 'old', 'new']);
});

test('log file lines render as the live stream shows them', () => {
  assert.equal(renderLogLine('{"text":"hello","type":"log"}'), 'hello');
  assert.equal(renderLogLine('{"fraction":0.4,"message":"halfway","type":"progress"}'), 'progress 40% halfway');
  assert.equal(renderLogLine('{"output":"x","type":"result"}'), null);
  assert.equal(renderLogLine('{"type":"usage","model":"m","inputTokens":1,"outputTokens":2}'), null);
  assert.equal(renderLogLine('plain stderr line'), 'plain stderr line');
  assert.equal(renderLogLine('{not json'), '{not json');
});
