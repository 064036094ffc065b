"""What every reliability part shares: a workspace, a `drover serve` over pipes, process facts from /proc.

Stdlib only; Linux only (reads /proc).
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def default_drover():
    """The binary under test: $DROVER_BIN, else the release build, else the debug build."""
    for path in [os.environ.get("DROVER_BIN"), os.path.join(ROOT, ".build/release/drover"),
                 os.path.join(ROOT, ".build/debug/drover")]:
        if path and os.access(path, os.X_OK):
            return os.path.abspath(path)
    raise SystemExit("no drover binary: build it (swift build) or set DROVER_BIN")


class Failed(Exception):
    """An expectation of a part did not hold."""


def expect(condition, message):
    if not condition:
        raise Failed(message)


# Every workspace folder the parts made, so run.py can check afterwards that no engine of them is left.
CREATED_WORKSPACES = []


class Workspace:
    """A temporary workspace folder with pipelines under .drover/pipelines and its own config dir."""

    def __init__(self, prefix="drover-rel-", root=None):
        self.path = os.path.realpath(tempfile.mkdtemp(prefix=prefix, dir=root))
        CREATED_WORKSPACES.append(self.path)
        self.config = os.path.join(self.path, ".config")
        os.makedirs(os.path.join(self.path, ".drover", "pipelines"))
        os.makedirs(self.config)

    def pipeline(self, pipeline_id, steps, name=None):
        with open(os.path.join(self.path, ".drover", "pipelines", pipeline_id + ".json"), "w") as f:
            json.dump({"name": name or pipeline_id, "steps": steps}, f)

    @property
    def store(self):
        return os.path.join(self.path, ".drover", "drover.db")

    def env(self):
        return dict(os.environ, DROVER_CONFIG_DIR=self.config)

    def store_owner_pid(self):
        """The pid recorded in .drover/engine.lock: the process that holds the store (None if none)."""
        try:
            with open(os.path.join(self.path, ".drover", "engine.lock")) as f:
                text = f.read()
        except OSError:
            return None
        for line in text.splitlines():
            if line.startswith("pid="):
                return int(line[4:])
        return int(text.strip()) if text.strip().isdigit() else None

    def agent_pids(self):
        """Live (not zombie) processes started for this workspace's runs (DROVER_WORKSPACE in their environment)."""
        return processes_with_env("DROVER_WORKSPACE=" + self.path)

    def stop_engine(self, drover):
        """Stops this workspace's engine (if any) and waits for it to exit: it would otherwise idle on
        for its timeout after the folder is gone."""
        subprocess.run([drover, "engine", "stop", "--quiet", "--workspace", self.path], env=self.env(),
                       capture_output=True, timeout=60)
        try:
            wait_until(lambda: not engine_pids(self.path), 30, "the engine of %s to exit" % self.path)
        except Failed:
            pass  # run.py's final check names it

    def cleanup(self, drover):
        """Stops the engine, kills agents left over, removes the folder."""
        self.stop_engine(drover)
        for pid in self.agent_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(self.path, ignore_errors=True)


def engine_pids(workspace_path):
    """Live engines serving this workspace: `drover engine --foreground --workspace <path>` in /proc cmdlines."""
    wanted = ["engine", "--foreground", "--workspace", workspace_path]
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % name, "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0")]
            with open("/proc/%s/stat" % name) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and any(argv[i:i + len(wanted)] == wanted for i in range(len(argv))):
            found.append(int(name))
    return found


def processes_with_env(entry):
    needle = entry.encode() + b"\0"
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % name, "rb") as f:
                environ = f.read() + b"\0"
            with open("/proc/%s/stat" % name) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and (environ.startswith(needle) or b"\0" + needle in environ):
            found.append(int(name))
    return found


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid):
    """User+system CPU of a live process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until(condition, timeout, what, interval=0.02):
    """Polls `condition` until it returns a truthy value (returned) or `timeout` seconds pass (Failed)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise Failed("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(interval)


class Server:
    """`drover serve` on a workspace, NDJSON over pipes; a reader thread files answers and notifications."""

    def __init__(self, drover, workspace, logs=True, stderr=None, args=(), env=None):
        """`args` follow `serve` (e.g. --no-daemon); `env` is added to the workspace's environment."""
        self.workspace = workspace
        self.process = subprocess.Popen([drover, "serve", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=stderr if stderr is not None else subprocess.DEVNULL,
                                        cwd=workspace.path, env=dict(workspace.env(), **(env or {})), bufsize=0)
        self.pid = self.process.pid
        self.answers = {}
        self.events = {}  # runId -> [event]
        self.log_lines = 0
        self.closed = False
        self.next_id = 1
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        params = {"protocolVersion": 1, "workspace": workspace.path, "clientInfo": {"name": "reliability"}}
        if not logs:
            params["capabilities"] = {"logs": False}
        self.call("initialize", params)

    def _lines(self):
        # Chunks, not `for line in stdout`: the pipe is unbuffered, so that reads one byte per syscall.
        fd = self.process.stdout.fileno()
        pending = b""
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return
            *lines, pending = (pending + chunk).split(b"\n")
            yield from lines

    def _read(self):
        for line in self._lines():
            try:
                message = json.loads(line)
            except ValueError:
                continue
            with self.cond:
                if isinstance(message, list):  # a batch's answers
                    self.answers.update((answer.get("id"), answer) for answer in message if isinstance(answer, dict))
                elif "method" not in message:
                    self.answers[message.get("id")] = message
                elif message["method"] == "run/event":
                    params = message.get("params") or {}
                    event = params.get("event", params)
                    self.events.setdefault(event["runId"], []).append(event)
                elif message["method"] in ("run/logsDropped", "run/eventsDropped"):
                    self.dropped = getattr(self, "dropped", []) + [message]
                elif message["method"] == "run/log":
                    self.log_lines += 1
                self.cond.notify_all()
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def send(self, message):
        self.process.stdin.write((json.dumps(message) + "\n").encode())

    def request(self, method, params=None, timeout=30):
        """The whole answer (result or error)."""
        with self.cond:
            request_id = self.next_id
            self.next_id += 1
        message = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        deadline = time.monotonic() + timeout
        with self.cond:
            while request_id not in self.answers:
                if self.closed:
                    raise Failed("the server closed stdout before answering %s" % method)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise Failed("no answer to %s within %.0f s" % (method, timeout))
                self.cond.wait(remaining)
            return self.answers.pop(request_id)

    def call(self, method, params=None, timeout=30):
        """The result; Failed on an error answer."""
        answer = self.request(method, params, timeout)
        if "error" in answer:
            raise Failed("%s failed: %s" % (method, answer["error"]))
        return answer["result"]

    def wait_event(self, run_id, event_type, timeout=30):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not any(e["type"] == event_type for e in self.events.get(run_id, [])):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.closed:
                    raise Failed("no %s for %s" % (event_type, run_id))
                self.cond.wait(remaining)

    def stop(self, timeout=30):
        """shutdown, exit; the exit status."""
        try:
            self.call("shutdown", timeout=timeout)
            self.send({"jsonrpc": "2.0", "method": "exit"})
            self.process.stdin.close()
        except (Failed, OSError):
            pass
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
