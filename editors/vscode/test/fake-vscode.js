'use strict';
// A small stand-in for the `vscode` module: the parts of the API the extension uses, recording
// what it shows (tree views, QuickPicks, InputBoxes, messages, output channels, the status bar,
// documents) and letting a test answer prompts the way a user would. Tests load it with
// test/helpers.js, which makes `require('vscode')` resolve here.

const { EventEmitter: NodeEmitter } = require('events');
const fs = require('fs');

class EventEmitter {
  constructor() {
    this.listeners = new Set();
    this.event = (listener) => {
      this.listeners.add(listener);
      return { dispose: () => this.listeners.delete(listener) };
    };
  }

  fire(value) { for (const listener of [...this.listeners]) listener(value); }

  dispose() { this.listeners.clear(); }
}

class Disposable {
  constructor(fn) { this.fn = fn; }

  dispose() { if (this.fn) this.fn(); this.fn = undefined; }
}

const TreeItemCollapsibleState = { None: 0, Collapsed: 1, Expanded: 2 };
const StatusBarAlignment = { Left: 1, Right: 2 };

class TreeItem {
  constructor(label, collapsibleState = TreeItemCollapsibleState.None) {
    this.label = label;
    this.collapsibleState = collapsibleState;
  }
}

class ThemeIcon {
  constructor(id, color) { this.id = id; this.color = color; }
}

class ThemeColor {
  constructor(id) { this.id = id; }
}

class Uri {
  constructor(scheme, fsPath, pathPart) { this.scheme = scheme; this.fsPath = fsPath; this.path = pathPart; }

  static file(fsPath) { return new Uri('file', fsPath, fsPath); }

  static from({ scheme, path: pathPart }) { return new Uri(scheme, pathPart, pathPart); }

  static parse(text) {
    const colon = text.indexOf(':');
    return new Uri(text.slice(0, colon), text.slice(colon + 1), text.slice(colon + 1));
  }

  toString() { return `${this.scheme}:${this.path}`; }
}

/** One thing the extension asked the user: a QuickPick, an InputBox or a message. */
class Prompt {
  constructor(kind, fields) {
    Object.assign(this, fields);
    this.kind = kind;
    this.answered = false;
    this.promise = new Promise((resolve) => { this.resolve = resolve; });
  }

  answer(value) {
    if (this.answered) throw new Error(`${this.kind} prompt answered twice`);
    this.answered = true;
    this.resolve(value);
  }

  /** QuickPick: picks the item whose label (or the string) equals `label`. */
  pick(label) {
    const item = this.items.find((i) => (typeof i === 'string' ? i : i.label) === label);
    if (!item) throw new Error(`no item ${JSON.stringify(label)} among ${JSON.stringify(this.labels())}`);
    this.answer(item);
  }

  labels() { return this.items.map((i) => (typeof i === 'string' ? i : i.label)); }

  /** InputBox: types `text` (checked by the box's validateInput, as VS Code would) and presses Enter. */
  type(text) {
    if (this.options && this.options.validateInput) {
      const problem = this.options.validateInput(text);
      if (problem) throw new Error(`input rejected by validateInput: ${problem}`);
    }
    this.answer(text);
  }

  /** Message: clicks the button `title`; dismiss() closes it. */
  click(title) {
    if (!this.items.includes(title)) throw new Error(`no button ${JSON.stringify(title)} among ${JSON.stringify(this.items)}`);
    this.answer(title);
  }

  dismiss() { this.answer(undefined); }
}

class FakeDocument {
  constructor(uri, content, languageId) {
    this.uri = uri;
    this.content = content;
    this.languageId = languageId;
    this.isUntitled = uri.scheme === 'untitled';
  }

  getText() { return this.content; }

  /** What a user typing in the editor does to the document. */
  setText(text) { this.content = text; }
}

class OutputChannel {
  constructor(name) { this.name = name; this.text = ''; this.shown = 0; this.disposed = false; }

  append(text) { this.text += text; }

  appendLine(text) { this.text += text + '\n'; }

  lines() { return this.text.split('\n').slice(0, -1); }

  show() { this.shown += 1; }

  hide() {}

  clear() { this.text = ''; }

  dispose() { this.disposed = true; }
}

/** Everything a test inspects; replaced by reset() before each test. */
function newState() {
  return {
    commands: new Map(), // id -> handler
    executed: [], // [id, args]
    context: new Map(), // setContext keys
    treeViews: new Map(), // view id -> { provider, options }
    channels: [],
    statusItems: [],
    prompts: [],
    documents: [],
    activeTextEditor: undefined,
    config: { drover: { path: 'drover' } },
    workspaceFolders: [],
    events: new NodeEmitter(), // 'prompt' (Prompt)
    activeEditorChanged: new EventEmitter(),
    configurationChanged: new EventEmitter(),
    untitled: 0,
    contentProviders: new Map(), // scheme -> TextDocumentContentProvider
    shown: [], // documents shown in an editor, in order
    diffs: [], // vscode.diff calls: { left, right, title, leftText, rightText }
  };
}

let state = newState();

function addPrompt(kind, fields) {
  const prompt = new Prompt(kind, fields);
  state.prompts.push(prompt);
  state.events.emit('prompt', prompt);
  return prompt;
}

function message(kind) {
  return (text, ...rest) => {
    let options;
    if (rest.length && rest[0] && typeof rest[0] === 'object' && !Array.isArray(rest[0]) && rest[0].title === undefined) {
      options = rest.shift();
    }
    return addPrompt(kind, { message: text, options, items: rest }).promise;
  };
}

const commands = {
  registerCommand(id, handler) {
    if (state.commands.has(id)) throw new Error(`command '${id}' already exists`);
    state.commands.set(id, handler);
    return new Disposable(() => state.commands.delete(id));
  },
  async executeCommand(id, ...args) {
    state.executed.push([id, args]);
    if (id === 'setContext') { state.context.set(args[0], args[1]); return undefined; }
    if (id === 'vscode.diff') {
      // VS Code opens both sides through their content providers; so does the fake, recording the texts.
      const [left, right, title] = args;
      const [leftDoc, rightDoc] = [await workspace.openTextDocument(left), await workspace.openTextDocument(right)];
      state.diffs.push({ left, right, title, leftText: leftDoc.getText(), rightText: rightDoc.getText() });
      return undefined;
    }
    const handler = state.commands.get(id);
    if (handler) return handler(...args);
    return undefined; // VS Code's own commands (view focus, settings): recorded only
  },
  async getCommands() { return [...state.commands.keys()]; },
};

const window = {
  createTreeView(id, options) {
    if (state.treeViews.has(id)) throw new Error(`tree view '${id}' created twice`);
    const view = {
      id, provider: options.treeDataProvider, options, revealed: [],
      dispose() { state.treeViews.delete(id); },
      /** Records what was revealed; like VS Code, the provider must know the node's parents. */
      async reveal(node, revealOptions) {
        for (let at = node; at; at = options.treeDataProvider.getParent(at)) await options.treeDataProvider.getTreeItem(at);
        view.revealed.push({ node, options: revealOptions || {} });
      },
    };
    state.treeViews.set(id, view);
    return view;
  },
  registerTreeDataProvider(id, provider) { return window.createTreeView(id, { treeDataProvider: provider }); },
  createOutputChannel(name) {
    const channel = new OutputChannel(name);
    state.channels.push(channel);
    return channel;
  },
  createStatusBarItem(alignment, priority) {
    const item = { alignment, priority, text: '', tooltip: '', command: undefined, visible: false,
      show() { this.visible = true; }, hide() { this.visible = false; }, dispose() { this.visible = false; } };
    state.statusItems.push(item);
    return item;
  },
  async showQuickPick(items, options) {
    const resolved = await items;
    return addPrompt('quickPick', { items: resolved, options: options || {} }).promise;
  },
  showInputBox(options) {
    return addPrompt('inputBox', { options: options || {}, items: [] }).promise;
  },
  showInformationMessage: message('info'),
  showWarningMessage: message('warning'),
  showErrorMessage: message('error'),
  async showTextDocument(document) {
    state.shown.push(document);
    const editor = { document, selection: { isEmpty: true } };
    state.activeTextEditor = editor;
    state.activeEditorChanged.fire(editor);
    return editor;
  },
  get activeTextEditor() { return state.activeTextEditor; },
  onDidChangeActiveTextEditor: (listener) => state.activeEditorChanged.event(listener),
};

const workspace = {
  get workspaceFolders() { return state.workspaceFolders; },
  getConfiguration(section) {
    return {
      get(key, fallback) {
        const values = state.config[section] || {};
        return values[key] !== undefined ? values[key] : fallback;
      },
    };
  },
  onDidChangeConfiguration: (listener) => state.configurationChanged.event(listener),
  async openTextDocument(options) {
    if (options instanceof Uri) {
      // A file from disk, or a virtual document from the provider registered for its scheme.
      let content;
      if (options.scheme === 'file') {
        content = fs.readFileSync(options.fsPath, 'utf8');
      } else {
        const provider = state.contentProviders.get(options.scheme);
        if (!provider) throw new Error(`no content provider for scheme ${options.scheme}`);
        content = await provider.provideTextDocumentContent(options);
      }
      const document = new FakeDocument(options, content, options.path.endsWith('.diff') ? 'diff' : 'plaintext');
      state.documents.push(document);
      return document;
    }
    state.untitled += 1;
    const document = new FakeDocument(Uri.parse(`untitled:Untitled-${state.untitled}`), options.content || '',
      options.language || 'plaintext');
    state.documents.push(document);
    return document;
  },
  get textDocuments() { return state.documents; },
  registerTextDocumentContentProvider(scheme, provider) {
    if (state.contentProviders.has(scheme)) throw new Error(`a content provider for '${scheme}' exists already`);
    state.contentProviders.set(scheme, provider);
    return new Disposable(() => state.contentProviders.delete(scheme));
  },
};

/** The test side: state, and helpers to wait for prompts. */
const test = {
  get state() { return state; },
  reset() { state.events.removeAllListeners(); state = newState(); },
  setWorkspace(folder) { state.workspaceFolders = [{ uri: Uri.file(folder), name: 'ws', index: 0 }]; },
  setConfig(section, key, value) {
    state.config[section] = Object.assign({}, state.config[section], { [key]: value });
    state.configurationChanged.fire({ affectsConfiguration: (name) => name === `${section}.${key}` || name === section });
  },
  /** The first unanswered prompt of `kind` matching `filter`, now or when it appears. */
  nextPrompt(kind, filter = () => true, timeoutMs = 10000) {
    const match = (p) => p.kind === kind && !p.answered && !p.claimed && filter(p);
    const found = state.prompts.find(match);
    if (found) { found.claimed = true; return Promise.resolve(found); }
    const events = state.events;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        events.removeListener('prompt', listener);
        reject(new Error(`no ${kind} prompt appeared within ${timeoutMs} ms; prompts so far: ` +
          JSON.stringify(state.prompts.map((p) => [p.kind, p.message || (p.options && (p.options.placeHolder || p.options.title))]))));
      }, timeoutMs);
      function listener(prompt) {
        if (!match(prompt)) return;
        clearTimeout(timer);
        events.removeListener('prompt', listener);
        prompt.claimed = true;
        resolve(prompt);
      }
      events.on('prompt', listener);
    });
  },
  messages(kind) { return state.prompts.filter((p) => p.kind === kind).map((p) => p.message); },
  channel(name) { return state.channels.find((c) => c.name === name && !c.disposed); },
  /** A tree view rendered as text: one line per item, children indented (all expanded). */
  async renderTree(viewId) {
    const view = state.treeViews.get(viewId);
    if (!view) throw new Error(`no tree view ${viewId}`);
    const lines = [];
    const items = [];
    async function walk(node, depth) {
      const children = await view.provider.getChildren(node);
      for (const child of children || []) {
        const item = await view.provider.getTreeItem(child);
        items.push({ node: child, item });
        lines.push(`${'  '.repeat(depth)}${item.label}${item.description ? ' — ' + item.description : ''} [${item.contextValue}]`);
        if (item.collapsibleState !== TreeItemCollapsibleState.None) await walk(child, depth + 1);
      }
    }
    await walk(undefined, 0);
    return { text: lines.join('\n'), items };
  },
};

module.exports = {
  EventEmitter, Disposable, TreeItem, TreeItemCollapsibleState, ThemeIcon, ThemeColor, Uri,
  StatusBarAlignment, commands, window, workspace,
  env: { openExternal: async () => true },
  __test: test,
};
