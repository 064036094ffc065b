#!/usr/bin/env python3
"""End-to-end tests of the drover CLI: drive the real binary as a person would.

Interactive gates go through a pseudo-terminal (os.openpty + subprocess, the pty made the child's
controlling terminal so Ctrl-C becomes SIGINT). Every wait is on expected output or process exit,
with a timeout; nothing synchronises on a fixed sleep.

Run: python3 Tests/CLI/test_cli.py [-v] [TestCase.test_name ...]
Binary: $DROVER_BIN, else .build/debug/drover. The last line printed is `N passed, N failed`.
"""
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import termios
import threading
import time
import unittest
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("DROVER_BIN") or os.path.join(ROOT, ".build", "debug", "drover")
TIMEOUT = 60
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def fake_step(step_id, script, prompt="{{task}}", **extra):
    step = {"id": step_id, "kind": "agent", "prompt": prompt, "agent": {"driver": "fake", "script": script}}
    step.update(extra)
    return step


# A decision, an approval, and a step downstream of the approval that echoes its prompt.
GATES_PIPELINE = {
    "name": "Gates",
    "steps": [
        fake_step("ask", [[{"say": "thinking"}, {"ask": {"question": "Which colour?", "options": ["red", "blue"]}}],
                          [{"result": "picked: {{prompt}}"}]]),
        fake_step("draft", [[{"say": "drafting"}, {"result": "echo {{prompt}}"}]], prompt="Draft for {{task}}",
                  requiresApproval=True),
        fake_step("final", [[{"result": "echo {{prompt}}"}]], prompt="Final: {{steps.draft.output}}"),
    ],
}

HANG_PIPELINE = {"name": "Hang", "steps": [fake_step("wait", [[{"say": "hanging now"}, {"hang": True}]])]}

SLOW_PIPELINE = {
    "name": "Slow",
    "steps": [fake_step("talk", [[{"say": "line one"}, {"sleep": 0.6}, {"say": "line two"}, {"sleep": 0.6},
                                  {"say": "line three"}, {"result": "done talking"}]])],
}

SIMPLE_PIPELINE = {"name": "Simple", "steps": [fake_step("a", [[{"say": "hi"}, {"result": "echo {{prompt}}"}]])]}


class Env:
    """A scratch workspace and config folder, removed afterwards."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="drover-cli-test-")
        self.config = os.path.join(self.root, "config")
        self.workspace = os.path.realpath(os.path.join(self.root, "ws"))
        os.makedirs(self.config)
        os.makedirs(self.workspace)
        self.mark = "mark-" + uuid.uuid4().hex

    def env(self, **extra):
        env = dict(os.environ)
        for key in ("NO_COLOR", "EDITOR", "VISUAL"):
            env.pop(key, None)
        env["DROVER_CONFIG_DIR"] = self.config
        env["DROVER_TEST_MARK"] = self.mark  # inherited by agents: finds leftovers
        env["TERM"] = "xterm"
        env.update(extra)
        return env

    def pipeline(self, pipeline_id, definition):
        folder = os.path.join(self.workspace, ".drover", "pipelines")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, pipeline_id + ".json"), "w") as f:
            f.write(definition if isinstance(definition, str) else json.dumps(definition))

    def run(self, *args, input=None, timeout=TIMEOUT, **extra_env):
        return subprocess.run([BIN, *args], cwd=self.workspace, env=self.env(**extra_env), input=input,
                              stdin=None if input is not None else subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout)

    def trust(self):
        result = self.run("trust", "--workspace", self.workspace)
        assert result.returncode == 0, result.stderr

    def stop_engine(self):
        """Stops the workspace's engine (the first command started it) and waits until it has exited."""
        subprocess.run([BIN, "engine", "stop", "--quiet", "--workspace", self.workspace], env=self.env(),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)

    def cleanup(self):
        self.stop_engine()
        shutil.rmtree(self.root, ignore_errors=True)

    def leftover_agents(self):
        """Pids of live agent processes that carry this test's mark (agents inherit it; the
        workspace's engine does too, but only an agent and its children carry DROVER_RUN_ID)."""
        found = []
        needle = ("DROVER_TEST_MARK=" + self.mark).encode()
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open("/proc/%s/environ" % name, "rb") as f:
                    entries = f.read().split(b"\0")
                    if needle in entries and any(entry.startswith(b"DROVER_RUN_ID=") for entry in entries):
                        with open("/proc/%s/stat" % name) as s:
                            if s.read().split(")")[-1].split()[0] != "Z":
                                found.append(int(name))
            except OSError:
                pass
        return found


class Pty:
    """The binary on a pseudo-terminal: send keys, wait for output."""

    def __init__(self, env, args, **extra_env):
        self.master, slave = os.openpty()
        # A sensible size; some programs ask.
        fcntl.ioctl(slave, termios.TIOCSWINSZ, b"\x00\x18\x00\x50\x00\x00\x00\x00")
        self.proc = subprocess.Popen(
            [BIN, *args], cwd=env.workspace, env=env.env(**extra_env), stdin=slave, stdout=slave, stderr=slave,
            start_new_session=True, preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0), close_fds=True)
        os.close(slave)
        self.buffer = ""
        self.position = 0
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            try:
                data = os.read(self.master, 4096)
            except OSError:
                data = b""
            with self.cond:
                if not data:
                    self.closed = True
                    self.cond.notify_all()
                    return
                self.buffer += data.decode("utf-8", "replace").replace("\r\n", "\n")
                self.cond.notify_all()

    closed = False

    def expect(self, pattern, timeout=TIMEOUT):
        """Waits until `pattern` (a regex) appears after the previous match; returns the match."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                match = regex.search(ANSI.sub("", self.buffer), self.position)
                if match:
                    self.position = match.end()
                    return match
                remaining = deadline - time.monotonic()
                if self.closed or remaining <= 0:
                    why = "the program closed the terminal" if self.closed else "timed out"
                    raise AssertionError("%s waiting for %r; output so far:\n%s" % (why, pattern, self.buffer))
                self.cond.wait(remaining)

    def send(self, text):
        os.write(self.master, text.encode())

    def wait(self, timeout=TIMEOUT):
        code = self.proc.wait(timeout=timeout)
        self.reader.join(timeout=5)
        return code

    def text(self):
        with self.cond:
            return self.buffer

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        try:
            os.close(self.master)
        except OSError:
            pass


class CLITestCase(unittest.TestCase):
    def setUp(self):
        self.env = Env()
        self.addCleanup(self.env.cleanup)

    def assertOneErrorLine(self, result, *fragments):
        lines = result.stderr.strip().split("\n")
        self.assertEqual(len(lines), 1, "stderr should be one line:\n" + result.stderr)
        self.assertTrue(lines[0].startswith("drover: "), lines[0])
        for fragment in fragments:
            self.assertIn(fragment, lines[0])
        self.assertNotIn("Fatal error", result.stderr)

    def run_id(self, result):
        return re.search(r"Run (r-\S+)", result.stdout).group(1)

    def serve_holding_workspace(self):
        """A `drover serve` initialized on the test workspace, so it holds the one-engine lock."""
        serve = subprocess.Popen([BIN, "serve"], cwd=self.env.workspace, env=self.env.env(),
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: serve.poll() is None and serve.kill())
        request = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"workspace": self.env.workspace}}
        serve.stdin.write((json.dumps(request) + "\n").encode())
        serve.stdin.flush()
        response = {}
        reader = threading.Thread(target=lambda: response.update(json.loads(serve.stdout.readline())))
        reader.start()
        reader.join(TIMEOUT)
        self.assertIn("result", response, response)
        return serve

    def pty(self, *args, **extra_env):
        session = Pty(self.env, args, **extra_env)
        self.addCleanup(session.close)
        return session


class DemoTests(CLITestCase):
    def test_demo_yes_runs_every_step_and_gate(self):
        started = time.monotonic()
        result = self.env.run("demo", "--yes")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertLess(time.monotonic() - started, 60)
        out = result.stdout
        for fragment in ["plan (planner) started", "Reading the task", "asks", "How thorough should the plan be?",
                         "1) quick", "(auto)", "chose quick", "impl needs approval", "approved", "ok report done",
                         "usage: fake-small", "done in", "answered automatically"]:
            self.assertIn(fragment, out)
        self.assertRegex(out, r"ok Run r-\S+ done in [0-9.]+s")
        # Agent output is indented under its step.
        self.assertIn("\n    Reading the task", out)
        # The scratch repository has a commit.
        folder = re.search(r"The demo ran in (\S+) ", out).group(1)
        log = subprocess.run(["git", "-C", folder, "log", "--oneline"], capture_output=True, text=True)
        self.assertIn("Initial commit", log.stdout)
        shutil.rmtree(folder, ignore_errors=True)

    def test_demo_at_a_terminal_asks_the_person(self):
        session = self.pty("demo", NO_COLOR="1")
        session.expect(r"How thorough should the plan be\?")
        session.expect(r"Choose 1-2: ")
        session.send("2\n")
        session.expect(r"chose thorough")
        session.expect(r"impl needs approval")
        session.expect(r"\[e\]dit\? ")
        session.send("a\n")
        folder = session.expect(r"The demo ran in (\S+) ").group(1)
        self.assertEqual(session.wait(), 0)
        self.assertNotIn("(auto)", session.text())
        shutil.rmtree(folder, ignore_errors=True)

    def test_demo_answers_automatically_when_stdin_is_not_a_terminal(self):
        result = self.env.run("demo", input="")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("stdin is not a terminal", result.stdout)
        self.assertIn("(auto) approving", result.stdout)
        shutil.rmtree(re.search(r"The demo ran in (\S+) ", result.stdout).group(1), ignore_errors=True)

    def test_plain_output_without_a_terminal(self):
        result = self.env.run("demo", "--yes")
        self.assertNotIn("\x1b[", result.stdout)
        for symbol in "✓✗●":
            self.assertNotIn(symbol, result.stdout)
        shutil.rmtree(re.search(r"The demo ran in (\S+) ", result.stdout).group(1), ignore_errors=True)

    def test_colour_and_symbols_on_a_terminal_unless_no_color(self):
        session = self.pty("demo", "--yes")
        session.expect(r"The demo ran in (\S+) ")
        self.assertEqual(session.wait(), 0)
        self.assertIn("\x1b[", session.text())
        self.assertIn("✓", session.text())
        shutil.rmtree(re.search(r"The demo ran in (\S+) ", ANSI.sub("", session.text())).group(1), ignore_errors=True)

        plain = self.pty("demo", "--yes", NO_COLOR="1")
        plain.expect(r"The demo ran in (\S+) ")
        self.assertEqual(plain.wait(), 0)
        self.assertNotIn("\x1b[", plain.text())
        self.assertNotIn("✓", plain.text())
        shutil.rmtree(re.search(r"The demo ran in (\S+) ", plain.text()).group(1), ignore_errors=True)


class InteractiveGateTests(CLITestCase):
    def setUp(self):
        super().setUp()
        self.env.pipeline("gates", GATES_PIPELINE)
        self.env.trust()

    def start(self, **extra_env):
        session = self.pty("run", "gates", "--task", "paint the shed", NO_COLOR="1", **extra_env)
        session.expect(r"ask asks.*Which colour\?")
        session.expect(r"1\) red")
        session.expect(r"2\) blue")
        session.expect(r"Choose 1-2: ")
        return session

    def answer_decision(self, session):
        session.send("7\n")  # not an option: asked again
        session.expect(r"Type a number from 1 to 2")
        session.expect(r"Choose 1-2: ")
        session.send("2\n")
        session.expect(r"chose blue")
        session.expect(r"ok ask done")
        session.expect(r"draft needs approval")
        session.expect(r"\[a\]pprove, \[c\]hange, \[r\]eject, \[e\]dit\? ")

    def test_decision_by_number_then_approve(self):
        session = self.start()
        self.answer_decision(session)
        session.send("x\n")  # invalid: asked again
        session.expect(r"Type a, c, r or e")
        session.expect(r"\[e\]dit\? ")
        session.send("a\n")
        session.expect(r"ok approved")
        session.expect(r"ok final done")
        session.expect(r"Run r-\S+ done")
        self.assertEqual(session.wait(), 0)
        self.assertIn("Decision: Which colour? → blue", session.text())

    def test_change_sends_feedback_to_the_rerun(self):
        session = self.start()
        self.answer_decision(session)
        session.send("c\n")
        session.expect(r"What should change\? ")
        session.send("mention the brushes\n")
        session.expect(r"changes requested: mention the brushes")
        session.expect(r"draft \(\S+\) started attempt 2|draft started attempt 2")
        session.expect(r"draft needs approval")
        session.expect(r"mention the brushes")  # the fake agent echoes its prompt: the feedback reached it
        session.expect(r"\[e\]dit\? ")
        session.send("a\n")
        session.expect(r"Run r-\S+ done")
        self.assertEqual(session.wait(), 0)

    def test_reject_fails_the_run(self):
        session = self.start()
        self.answer_decision(session)
        session.send("r\n")
        session.expect(r"Reason \(optional")
        session.send("wrong shed\n")
        session.expect(r"Run r-\S+ failed \(rejected\)")
        session.expect(r"wrong shed")
        session.expect(r"hint: ")
        self.assertEqual(session.wait(), 1)

    def test_edit_approves_the_edited_text(self):
        editor = os.path.join(self.env.root, "editor.sh")
        with open(editor, "w") as f:
            f.write("#!/bin/sh\nprintf 'EDITED BY THE TEST EDITOR\\n' > \"$1\"\n")
        os.chmod(editor, 0o755)
        session = self.start(EDITOR=editor)
        self.answer_decision(session)
        session.send("e\n")
        session.expect(r"approved with your edits")
        session.expect(r"final done")
        session.expect(r"echo Final: EDITED BY THE TEST EDITOR")  # the downstream step got the edited text
        session.expect(r"Run r-\S+ done")
        self.assertEqual(session.wait(), 0)

    def test_run_without_terminal_or_yes_stops_at_the_gate(self):
        result = self.env.run("run", "gates", "--task", "paint")
        self.assertEqual(result.returncode, 1)
        self.assertIn("Which colour?", result.stdout)
        self.assertOneErrorLine(result, "waits for a decision", "--yes")
        runs = self.env.run("runs", "--status", "blocked")
        self.assertIn("gates", runs.stdout)
        run_id = re.search(r"Run (r-\S+)", result.stdout).group(1)
        status = self.env.run("status", run_id)
        self.assertIn("? blocked", status.stdout)
        self.assertIn("waiting for a decision: Which colour?", status.stdout)
        self.assertIn("2) blue", status.stdout)

    def test_run_yes_answers_gates(self):
        result = self.env.run("run", "gates", "--task", "paint", "--yes")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("chose red", result.stdout)
        self.assertIn("(auto) approving", result.stdout)


class CtrlCTests(CLITestCase):
    def test_ctrl_c_cancels_the_run_and_kills_the_agent(self):
        self.env.pipeline("hang", HANG_PIPELINE)
        self.env.trust()
        session = self.pty("run", "hang", "--task", "wait forever", NO_COLOR="1")
        session.expect(r"hanging now")
        self.assertTrue(self.env.leftover_agents(), "the agent should be running")
        session.send("\x03")
        session.expect(r"cancelling run")
        self.assertEqual(session.wait(), 130)
        self.assertIn("cancelled", session.text())
        self.assertEqual(self.env.leftover_agents(), [])
        runs = self.env.run("runs")
        self.assertIn("cancelled", runs.stdout)

    def test_ctrl_c_at_a_gate_prompt(self):
        self.env.pipeline("gates", GATES_PIPELINE)
        self.env.trust()
        session = self.pty("run", "gates", "--task", "x", NO_COLOR="1")
        session.expect(r"Choose 1-2: ")
        session.send("\x03")
        self.assertEqual(session.wait(), 130)
        self.assertIn("cancelled", self.env.run("runs").stdout)


class ReadOnlyCommandTests(CLITestCase):
    def setUp(self):
        super().setUp()
        self.env.pipeline("gates", GATES_PIPELINE)
        self.env.pipeline("simple", SIMPLE_PIPELINE)
        self.env.trust()

    def test_runs_status_logs_pipelines(self):
        done = self.env.run("run", "gates", "--task", "paint", "--yes")
        run_id = self.run_id(done)
        runs = self.env.run("runs")
        self.assertEqual(runs.returncode, 0)
        header = runs.stdout.split("\n")[0].split()
        self.assertEqual(header, ["ID", "PIPELINE", "STATUS", "STEP", "COST", "AGE"])
        self.assertRegex(runs.stdout, run_id + r"\s+gates\s+ok done\s+-\s+\$\d+\.\d{4}\s+\d+s ago")
        self.assertEqual(self.env.run("runs", "--status", "failed").stdout.strip().startswith("No runs"), True)

        status = self.env.run("status", run_id)
        self.assertEqual(status.returncode, 0)
        self.assertRegex(status.stdout, r"ask\s+agent\s+done\s+2 attempts")
        self.assertIn("decision: Which colour? -> red", status.stdout)
        self.assertIn("usage:", status.stdout)

        logs = self.env.run("logs", run_id)
        self.assertIn("== ask · attempt 1 ==", logs.stdout)
        self.assertIn("thinking", logs.stdout)
        self.assertIn("decision: Which colour? [red / blue]", logs.stdout)
        one = self.env.run("logs", run_id, "draft")
        self.assertIn("drafting", one.stdout)
        self.assertNotIn("thinking", one.stdout)
        first = self.env.run("logs", run_id, "ask", "--attempt", "1")
        self.assertIn("thinking", first.stdout)
        self.assertEqual(self.env.run("logs", run_id, "ask", "--attempt", "9").returncode, 1)

        pipelines = self.env.run("pipelines")
        self.assertIn("demo", pipelines.stdout)
        self.assertIn("steps: ask -> draft -> final", pipelines.stdout)
        self.assertIn("(workspace ", pipelines.stdout)

    def test_status_of_a_failed_run_shows_the_failure(self):
        self.env.pipeline("broken", {"name": "Broken", "steps": [fake_step("boom", [[{"fail": "it broke"}]])]})
        result = self.env.run("run", "broken", "--task", "x", "--yes")
        self.assertEqual(result.returncode, 1)
        self.assertIn("failed (agent)", result.stdout)
        self.assertIn("it broke", result.stdout)
        self.assertIn("hint:", result.stdout)
        status = self.env.run("status", self.run_id(result))
        self.assertIn("failure (agent) at step boom: it broke", status.stdout)
        self.assertIn("hint:", status.stdout)

    def test_pipelines_shows_validation_errors(self):
        self.env.pipeline("bad", {"name": "Bad", "steps": [{"id": "x", "kind": "agent", "requireApproval": True}]})
        result = self.env.run("pipelines")
        self.assertEqual(result.returncode, 0)
        self.assertIn("FAIL bad", result.stdout)
        self.assertIn("error: step 1 ('x'): unknown field 'requireApproval'", result.stdout)
        refused = self.env.run("run", "bad", "--task", "x", "--yes")
        self.assertEqual(refused.returncode, 1)
        self.assertOneErrorLine(refused, "invalid")

    def test_logs_follow_until_the_run_ends(self):
        self.env.pipeline("slow", SLOW_PIPELINE)
        runner = subprocess.Popen([BIN, "run", "slow", "--task", "x", "--yes"], cwd=self.env.workspace,
                                  env=self.env.env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
        self.addCleanup(runner.kill)
        first = runner.stdout.readline()
        run_id = re.search(r"Run (r-\S+)", first).group(1)
        follow = subprocess.run([BIN, "logs", run_id, "--follow"], cwd=self.env.workspace, env=self.env.env(),
                                capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(follow.returncode, 0, follow.stderr)
        for line in ["line one", "line two", "line three", "done talking"]:
            self.assertIn(line, follow.stdout)
        # --follow returned because the run ended, not on a timer.
        self.assertEqual(runner.wait(timeout=TIMEOUT), 0)
        runner.stdout.close()

    def test_runs_limit_is_bounded_like_run_list_and_says_when_runs_are_left_out(self):
        first = self.run_id(self.env.run("run", "simple", "--task", "one", "--yes"))
        second = self.run_id(self.env.run("run", "simple", "--task", "two", "--yes"))
        newest = self.env.run("runs", "--limit", "1")
        self.assertEqual(newest.returncode, 0, newest.stderr)
        self.assertIn(second, newest.stdout)
        self.assertNotIn(first, newest.stdout)
        self.assertIn("older runs exist", newest.stdout)
        self.assertNotIn("older runs exist", self.env.run("runs").stdout)
        too_many = self.env.run("runs", "--limit", "501")
        self.assertEqual(too_many.returncode, 2)
        self.assertOneErrorLine(too_many, "--limit", "500")

    def test_commands_work_beside_an_attached_serve(self):
        # An editor's `drover serve` attaches to the workspace's engine, as every command does: nothing is refused.
        done = self.env.run("run", "simple", "--task", "hello", "--yes")
        run_id = self.run_id(done)
        serve = self.serve_holding_workspace()

        runs = self.env.run("runs")
        self.assertEqual(runs.returncode, 0, runs.stderr)
        self.assertIn(run_id, runs.stdout)
        self.assertIn("ok  a", self.env.run("status", run_id).stdout.replace("ok  a ", "ok  a"))
        self.assertIn("hi", self.env.run("logs", run_id, "a").stdout)
        self.assertIn("simple", self.env.run("pipelines").stdout)

        again = self.env.run("run", "simple", "--task", "again", "--yes")
        self.assertEqual(again.returncode, 0, again.stdout + again.stderr)
        self.assertIn("echo again", again.stdout)
        demo = self.env.run("run", "demo", "--task", "again", "--yes")
        self.assertEqual(demo.returncode, 0, demo.stdout + demo.stderr)

        serve.stdin.close()
        self.assertEqual(serve.wait(timeout=TIMEOUT), 1)  # stdin EOF without shutdown


# Fails on its first attempt, succeeds on the second; a step after it.
FLAKY_PIPELINE = {
    "name": "Flaky",
    "steps": [
        fake_step("first", [[{"result": "first attempt {{attempt}}"}]]),
        fake_step("flaky", [[{"fail": "boom"}], [{"result": "fine on attempt {{attempt}}"}]]),
        fake_step("last", [[{"result": "last attempt {{attempt}}"}]]),
    ],
}

# Hangs on its first attempt (until killed), finishes at once on the next.
HANG_ONCE_PIPELINE = {
    "name": "Hang once",
    "steps": [fake_step("work", [[{"say": "hanging now"}, {"hang": True}], [{"result": "worked on attempt {{attempt}}"}]])],
}


class FollowUpCommandTests(CLITestCase):
    """attach, retry, restart and cancel: picking up a run after `drover run` left it."""

    def setUp(self):
        super().setUp()
        self.env.pipeline("gates", GATES_PIPELINE)
        self.env.pipeline("flaky", FLAKY_PIPELINE)
        self.env.trust()

    def blocked_run(self):
        """`drover run` without a terminal: stops at the decision and leaves it open."""
        result = self.env.run("run", "gates", "--task", "paint the shed")
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertOneErrorLine(result, "waits for a decision", "drover attach " + self.run_id(result))
        return self.run_id(result)

    def status(self, run_id):
        return self.env.run("status", run_id).stdout

    def test_attach_at_a_terminal_answers_the_gates_and_completes_the_run(self):
        run_id = self.blocked_run()
        session = self.pty("attach", run_id, NO_COLOR="1")
        session.expect(r"Run %s \| pipeline gates \| \? blocked" % run_id)  # its state first
        session.expect(r"waiting for a decision: Which colour\?")
        session.expect(r"Following run %s live" % run_id)
        session.expect(r"Choose 1-2: ")
        session.send("2\n")
        session.expect(r"chose blue")
        session.expect(r"ok ask done")
        session.expect(r"draft needs approval")
        session.expect(r"\[e\]dit\? ")
        session.send("a\n")
        session.expect(r"ok final done")
        session.expect(r"Run %s done" % run_id)
        self.assertEqual(session.wait(), 0)
        self.assertIn("ok done", self.status(run_id))

        again = self.env.run("attach", run_id)  # a finished run: its state, exit 0
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertIn("ok done", again.stdout)
        self.assertNotIn("Following", again.stdout)

    def test_attach_to_a_blocked_approval_shows_the_whole_proposal(self):
        run_id = self.blocked_run()
        session = self.pty("attach", run_id, NO_COLOR="1")
        session.expect(r"Choose 1-2: ")
        session.send("1\n")
        session.expect(r"\[e\]dit\? ")
        session.send("\x03")  # Ctrl-C at the prompt cancels the run
        self.assertEqual(session.wait(), 130)
        self.assertIn("cancelled", self.status(run_id))

        # A run stopped at its approval: attach shows the proposal before asking.
        second = self.env.run("run", "gates", "--task", "x")
        second_id = self.run_id(second)
        session = self.pty("attach", second_id, NO_COLOR="1")
        session.expect(r"Choose 1-2: ")
        session.send("1\n")
        session.expect(r"\[e\]dit\? ")
        session.close()  # the attach dies at the approval prompt; the approval stays open
        session = self.pty("attach", second_id, NO_COLOR="1")
        session.expect(r"draft needs approval\. Proposal:")
        session.expect(r"\| echo Draft for x")
        session.expect(r"\[e\]dit\? ")
        session.send("a\n")
        session.expect(r"Run %s done" % second_id)
        self.assertEqual(session.wait(), 0)

    def test_attach_without_a_terminal_stops_at_the_gate_unless_yes(self):
        run_id = self.blocked_run()
        stopped = self.env.run("attach", run_id)
        self.assertEqual(stopped.returncode, 1)
        self.assertOneErrorLine(stopped, "waits for a decision", "--yes")
        done = self.env.run("attach", run_id, "--yes")
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertIn("(auto) choosing option 1", done.stdout)
        self.assertIn("(auto) approving", done.stdout)
        self.assertRegex(done.stdout, r"ok Run %s done" % run_id)

    def killed_mid_step(self, pipeline=None):
        """`drover run` and the workspace's engine killed with SIGKILL while the agent hangs: the run is
        left running, its agent orphaned. (Killing only `drover run` leaves the run to the engine.)"""
        self.env.pipeline("hangonce", pipeline or HANG_ONCE_PIPELINE)
        runner = subprocess.Popen([BIN, "run", "hangonce", "--task", "x", "--yes"], cwd=self.env.workspace,
                                  env=self.env.env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: runner.poll() is None and runner.kill())
        run_id = re.search(r"Run (r-\S+)", runner.stdout.readline()).group(1)
        while "hanging now" not in runner.stdout.readline():
            pass
        status = self.env.run("engine", "status", "--workspace", self.env.workspace)
        engine_pid = int(re.search(r"Engine (\d+) drives", status.stdout).group(1))
        os.kill(engine_pid, signal.SIGKILL)
        runner.kill()
        runner.wait(timeout=TIMEOUT)
        runner.stdout.close()
        self.assertTrue(self.env.leftover_agents(), "the orphaned agent should still run")
        return run_id

    def test_cancel_of_a_run_whose_engine_was_killed_stops_its_orphaned_agent(self):
        # The engine `cancel` starts resumes the run at once (the orphan killed, the step re-run): a step that
        # hangs on every attempt keeps the run live until the cancel arrives.
        run_id = self.killed_mid_step(HANG_PIPELINE)
        cancelled = self.env.run("cancel", run_id)
        self.assertEqual(cancelled.returncode, 0, cancelled.stdout + cancelled.stderr)
        self.assertIn("Run %s cancelled" % run_id, cancelled.stdout)
        self.assertEqual(self.env.leftover_agents(), [])
        self.assertIn("FAIL cancelled", self.status(run_id))

    def test_attach_resumes_a_run_whose_engine_was_killed(self):
        run_id = self.killed_mid_step()
        result = self.env.run("attach", run_id)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        # The engine attach starts resumes the run as it starts, so attach may find it still running (and follow
        # it to the end) or already done; either way it ends done, on a second attempt, with no agent left.
        self.assertRegex(result.stdout, r"ok Run %s done|\| ok done \|" % run_id)
        status = self.status(run_id)
        self.assertRegex(status, r"work +agent +done +2 attempts")
        self.assertEqual(self.env.leftover_agents(), [])

    def test_sigterm_or_sighup_stops_following_and_the_run_goes_on_in_the_engine(self):
        self.env.pipeline("slow", SLOW_PIPELINE)
        for number, name in ((signal.SIGTERM, "SIGTERM"), (signal.SIGHUP, "SIGHUP")):
            with self.subTest(signal=name):
                runner = subprocess.Popen([BIN, "run", "slow", "--task", "x", "--yes"], cwd=self.env.workspace,
                                          env=self.env.env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
                self.addCleanup(lambda: runner.poll() is None and runner.kill())
                run_id = re.search(r"Run (r-\S+)", runner.stdout.readline()).group(1)
                while "line one" not in runner.stdout.readline():
                    pass
                runner.send_signal(number)
                self.assertEqual(runner.wait(timeout=TIMEOUT), 128 + number)
                rest = runner.stdout.read()
                runner.stdout.close()
                self.assertIn("Stopped following (%s)" % name, rest)
                self.assertIn("drover attach %s" % run_id, rest)
                # The run was not interrupted: following it again sees it finish on its first attempt.
                result = self.env.run("attach", run_id, "--yes")
                self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
                self.assertIn("done", result.stdout)
                self.assertNotIn("interrupted", self.status(run_id))
                self.assertEqual(self.env.leftover_agents(), [])

    def test_retry_completes_a_failed_run(self):
        failed = self.env.run("run", "flaky", "--task", "x", "--yes")
        self.assertEqual(failed.returncode, 1)
        run_id = self.run_id(failed)
        self.assertIn("hint: See `drover logs %s flaky`; fix the agent or its config, then run `drover retry %s` (or run/retry)"
                      % (run_id, run_id), failed.stdout)
        retried = self.env.run("retry", run_id, "--yes")
        self.assertEqual(retried.returncode, 0, retried.stdout + retried.stderr)
        self.assertIn("run retried from flaky", retried.stdout)
        self.assertIn("fine on attempt 2", retried.stdout)
        self.assertIn("ok last done", retried.stdout)
        self.assertNotIn("first started", retried.stdout)
        self.assertRegex(retried.stdout, r"ok Run %s done" % run_id)

        done_again = self.env.run("retry", run_id, "--yes")
        self.assertEqual(done_again.returncode, 1)
        self.assertOneErrorLine(done_again, "Run %s is done; run/retry accepts failed or cancelled runs only" % run_id,
                                "drover restart %s --from STEP" % run_id)

    def test_restart_from_an_earlier_step_reruns_it_and_the_later_ones(self):
        failed = self.env.run("run", "flaky", "--task", "x", "--yes")
        run_id = self.run_id(failed)
        self.assertEqual(self.env.run("retry", run_id, "--yes").returncode, 0)
        restarted = self.env.run("restart", run_id, "--from", "flaky", "--yes")
        self.assertEqual(restarted.returncode, 0, restarted.stdout + restarted.stderr)
        self.assertIn("run restarted from flaky", restarted.stdout)
        self.assertIn("fine on attempt 3", restarted.stdout)
        self.assertIn("last attempt 2", restarted.stdout)
        self.assertNotIn("first started", restarted.stdout)
        self.assertRegex(restarted.stdout, r"ok Run %s done" % run_id)
        self.assertRegex(self.status(run_id), r"first\s+agent\s+done\s+1 attempt\b")

        unknown_step = self.env.run("restart", run_id, "--from", "nope")
        self.assertEqual(unknown_step.returncode, 1)
        self.assertOneErrorLine(unknown_step, "has no step 'nope'")
        no_from = self.env.run("restart", run_id)
        self.assertEqual(no_from.returncode, 2)
        self.assertOneErrorLine(no_from, "--from")

    def test_cancel_a_blocked_run_then_again(self):
        run_id = self.blocked_run()
        cancelled = self.env.run("cancel", run_id, "--reason", "not today")
        self.assertEqual(cancelled.returncode, 0, cancelled.stderr)
        self.assertIn("Run %s cancelled (Cancelled: not today)" % run_id, cancelled.stdout)
        self.assertIn("FAIL cancelled", self.status(run_id))
        again = self.env.run("cancel", run_id)
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertIn("Run %s is already cancelled; nothing to cancel" % run_id, again.stdout)
        self.assertIn("Cancelled: not today", self.status(run_id))
        # A cancelled run can be retried: the decision is asked again.
        retried = self.env.run("retry", run_id, "--yes")
        self.assertEqual(retried.returncode, 0, retried.stdout + retried.stderr)

    def test_unknown_runs_are_one_line_errors(self):
        self.blocked_run()
        for command in (["attach"], ["retry"], ["cancel"], ["restart", "--from", "ask"]):
            result = self.env.run(command[0], "r-20000101-000000-nope0", *command[1:])
            self.assertEqual(result.returncode, 1, command)
            self.assertOneErrorLine(result, "No run with id 'r-20000101-000000-nope0'")
        missing = self.env.run("attach")
        self.assertEqual(missing.returncode, 2)
        self.assertOneErrorLine(missing, "needs a run id")
        empty = os.path.join(self.env.root, "empty")
        os.makedirs(empty)
        nothing = self.env.run("attach", "r-x", "--workspace", empty)
        self.assertEqual(nothing.returncode, 1)
        self.assertOneErrorLine(nothing, "nothing has run in")
        self.assertFalse(os.path.exists(os.path.join(empty, ".drover")), "no store is created for a lookup")

    def test_commands_that_drive_work_beside_an_attached_serve(self):
        # The editor's serve and the terminal's commands share the workspace's engine: the editor sees the run the
        # terminal drives, live.
        run_id = self.blocked_run()
        serve = self.serve_holding_workspace()
        serve.stdin.write(b'{"jsonrpc":"2.0","method":"initialized","params":{}}\n')
        serve.stdin.flush()
        completed = threading.Event()

        def watch():
            for line in serve.stdout:
                message = json.loads(line)
                params = message.get("params") or {}
                if params.get("runId") == run_id and params.get("type") == "run.completed":
                    completed.set()
                    return
        threading.Thread(target=watch, daemon=True).start()

        attached = self.env.run("attach", run_id, "--yes")
        self.assertEqual(attached.returncode, 0, attached.stdout + attached.stderr)
        self.assertRegex(attached.stdout, r"ok Run %s done" % run_id)
        self.assertTrue(completed.wait(TIMEOUT), "the attached serve saw the run complete")

        other = self.blocked_run()
        cancelled = self.env.run("cancel", other)
        self.assertEqual(cancelled.returncode, 0, cancelled.stdout + cancelled.stderr)
        self.assertIn("FAIL cancelled", self.status(other))
        serve.stdin.close()
        serve.wait(timeout=TIMEOUT)


# The first step spends $0.60 (over a $0.50 budget) and works on until stopped; re-run, it finishes.
BUDGET_PIPELINE = {
    "name": "Budgeted",
    "steps": [
        fake_step("spend", [[{"usage": {"model": "m", "input": 100, "output": 50, "costUSD": 0.6}}, {"hang": True}],
                            [{"result": "spent"}]]),
        fake_step("after", [[{"result": "after the pause"}]]),
    ],
}


class BudgetTests(CLITestCase):
    def setUp(self):
        super().setUp()
        self.env.pipeline("budgeted", BUDGET_PIPELINE)
        with open(os.path.join(self.env.config, "config.json"), "w") as f:
            json.dump({"budgets": {"perRun": {"maxUSD": 0.5}}}, f)
        self.env.trust()

    def test_a_run_paused_at_its_budget_stops_following_and_resume_raises_it_and_follows_to_the_end(self):
        paused = self.env.run("run", "budgeted", "--task", "t", "--yes")
        self.assertEqual(paused.returncode, 1, paused.stdout + paused.stderr)
        run_id = self.run_id(paused)
        self.assertIn("paused: reached its budget, 100 in / 50 out tokens, $0.6000 spent; raise it with `drover resume %s --budget USD`"
                      % run_id, paused.stdout)
        self.assertRegex(self.env.run("runs").stdout, run_id + r"\s+budgeted\s+\S+ paused\s+\S+\s+\$0\.6000")

        # Attaching to a paused run says how to go on instead of waiting.
        attached = self.env.run("attach", run_id)
        self.assertEqual(attached.returncode, 1)
        self.assertIn("`drover resume %s --budget USD` goes on" % run_id, attached.stdout)

        # Still over the budget it has: refused, one line, nothing changes.
        still = self.env.run("resume", run_id)
        self.assertEqual(still.returncode, 1)
        self.assertOneErrorLine(still, "reaches its budget")

        session = self.pty("resume", run_id, "--budget", "$2", NO_COLOR="1")
        session.expect(r"Run %s" % run_id)
        session.expect(r"run resumed")
        session.expect(r"spend started attempt 2")
        session.expect(r"after done")
        session.expect(r"Run %s done" % run_id)
        self.assertEqual(session.wait(), 0)
        self.assertEqual(self.env.leftover_agents(), [])

        again = self.env.run("resume", run_id, "--budget", "3")
        self.assertEqual(again.returncode, 1)
        self.assertOneErrorLine(again, "Run %s is done; run/resume accepts paused runs only" % run_id)

    def test_pipelines_says_where_prices_come_from_and_the_budgets(self):
        pipelines = self.env.run("pipelines")
        self.assertRegex(pipelines.stdout, r"prices: built-in list of \d{4}-\d{2}-\d{2} \(\d+ models\); budgets: per run \$0\.5000")

    def test_resume_errors_are_one_line(self):
        self.env.run("run", "budgeted", "--task", "t", "--yes")
        for amount in ("abc", "0", "-1", "inf"):
            bad = self.env.run("resume", "r-20000101-000000-nope0", "--budget", amount)
            self.assertEqual(bad.returncode, 2, amount)
            self.assertOneErrorLine(bad, "--budget must be a positive amount of US dollars, like 10 or 2.50 (got '%s')" % amount)
        unknown = self.env.run("resume", "r-20000101-000000-nope0", "--budget", "5")
        self.assertEqual(unknown.returncode, 1)
        self.assertOneErrorLine(unknown, "No run with id 'r-20000101-000000-nope0'")
        missing = self.env.run("resume")
        self.assertEqual(missing.returncode, 2)
        self.assertOneErrorLine(missing, "'drover resume' needs a run id")


class TrustTests(CLITestCase):
    def test_untrusted_workspace_pipeline_is_refused_until_trusted(self):
        self.env.pipeline("simple", SIMPLE_PIPELINE)
        refused = self.env.run("run", "simple", "--task", "hello", "--yes")
        self.assertEqual(refused.returncode, 1)
        self.assertOneErrorLine(refused, "not trusted", "drover trust")
        self.assertIn("needs trust", self.env.run("pipelines").stdout)

        trusted = self.env.run("trust")
        self.assertEqual(trusted.returncode, 0)
        self.assertIn("Trusted " + self.env.workspace, trusted.stdout)
        ran = self.env.run("run", "simple", "--task", "hello", "--yes")
        self.assertEqual(ran.returncode, 0, ran.stdout + ran.stderr)
        self.assertIn("echo hello", ran.stdout)

        revoked = self.env.run("trust", "--revoke", "--workspace", self.env.workspace)
        self.assertEqual(revoked.returncode, 0)
        self.assertIn("Revoked", revoked.stdout)
        again = self.env.run("run", "simple", "--task", "hello", "--yes")
        self.assertEqual(again.returncode, 1)
        self.assertOneErrorLine(again, "not trusted")


    def test_pipelines_applies_the_whole_trust_rule(self):
        # A user pipeline needs no trust by itself, but its role is defined by the workspace's config: run/start refuses
        # it until the workspace is trusted, and `drover pipelines` says so, and why.
        os.makedirs(os.path.join(self.env.config, "pipelines"))
        with open(os.path.join(self.env.config, "pipelines", "user.json"), "w") as f:
            json.dump({"name": "User", "steps": [{"id": "w", "kind": "agent", "role": "writer", "prompt": "{{task}}"}]}, f)
        os.makedirs(os.path.join(self.env.workspace, ".drover"), exist_ok=True)
        with open(os.path.join(self.env.workspace, ".drover", "config.json"), "w") as f:
            json.dump({"agents": {"writer": {"driver": "fake", "script": [[{"result": "w"}]]}}}, f)
        refused = self.env.run("run", "user", "--task", "x", "--yes")
        self.assertEqual(refused.returncode, 1)
        self.assertOneErrorLine(refused, "not trusted")
        listing = self.env.run("pipelines").stdout
        self.assertRegex(listing, r"user \| User[^\n]*\n.*\n\s+needs trust \(step 'w' uses an agent from the workspace's")
        self.env.trust()
        self.assertNotIn("needs trust", self.env.run("pipelines").stdout)


class CommandDriverTests(CLITestCase):
    def test_a_role_pointed_at_a_command_agent(self):
        agent = os.path.join(self.env.root, "agent.sh")
        with open(agent, "w") as f:
            f.write("#!/bin/sh\n"
                    "prompt=$(cat)\n"
                    "echo '{\"type\":\"log\",\"text\":\"reading the prompt\"}'\n"
                    "echo '{\"type\":\"usage\",\"model\":\"tiny\",\"inputTokens\":12,\"outputTokens\":3}'\n"
                    "echo \"step $DROVER_STEP_ID of role $DROVER_ROLE got: $prompt\"\n")
        os.chmod(agent, 0o755)
        with open(os.path.join(self.env.config, "config.json"), "w") as f:
            json.dump({"agents": {"helper": {"driver": "command", "command": agent}}}, f)
        self.env.pipeline("helped", {"name": "Helped", "steps": [
            {"id": "work", "kind": "agent", "role": "helper", "prompt": "do {{task}}"}]})
        self.env.trust()
        result = self.env.run("run", "helped", "--task", "the dishes", "--yes")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("    reading the prompt", result.stdout)
        self.assertIn("usage: tiny, 12 in / 3 out tokens", result.stdout)
        self.assertIn("step work of role helper got: do the dishes", result.stdout)


FAKE_CLAUDE = """#!/bin/sh
# A stand-in for Claude Code: answers --version, reads the prompt message, prints a stream-json result.
if [ "$1" = "--version" ]; then echo "9.9.9 (Claude Code)"; exit 0; fi
read line
echo '{"type":"system","subtype":"init","session_id":"s-1","model":"fake-claude","permissionMode":"acceptEdits"}'
echo '{"type":"result","subtype":"success","is_error":false,"result":"planned by the claude on PATH","session_id":"s-1"}'
"""


class AgentSetupTests(CLITestCase):
    """First run without config, `drover init` and `drover doctor`, with a stand-in `claude` on PATH: which
    program is chosen, what is written, what is reported."""

    def setUp(self):
        super().setUp()
        self.bin = os.path.join(self.env.root, "bin")
        os.makedirs(self.bin)
        self.claude = os.path.join(self.bin, "claude")
        with open(self.claude, "w") as f:
            f.write(FAKE_CLAUDE)
        os.chmod(self.claude, 0o755)
        self.home = os.path.join(self.env.root, "home")
        os.makedirs(self.home)
        self.with_claude = {"PATH": self.bin + ":/usr/bin:/bin", "HOME": self.home}
        self.without_agents = {"PATH": "/usr/bin:/bin", "HOME": self.home}

    def test_a_built_in_pipeline_without_config_runs_the_claude_on_path_and_says_so(self):
        result = self.env.run("run", "implement", "--task", "add a thing", "--yes", ANTHROPIC_API_KEY="k", **self.with_claude)
        self.assertIn("note: No agent is configured for roles 'planner', 'implementer', 'auditor', 'reporter': "
                      "drover runs claude (%s), found on PATH. To choose another, run `drover init`" % self.claude, result.stdout)
        self.assertEqual(result.stdout.count("No agent is configured"), 1, result.stdout)
        self.assertIn("planned by the claude on PATH", result.stdout)
        self.assertIn("plan (planner) started", result.stdout)

    def test_without_any_agent_the_run_is_refused_saying_how_to_get_one(self):
        result = self.env.run("run", "implement", "--task", "add a thing", "--yes", **self.without_agents)
        self.assertEqual(result.returncode, 1)
        self.assertOneErrorLine(result, "no agent is configured for roles 'auditor', 'implementer', 'planner', 'reporter'")
        self.assertIn("drover init", result.stderr)

    def test_init_writes_a_config_for_the_agent_found_and_never_overwrites_one(self):
        listing = self.env.run("pipelines", **self.with_claude).stdout
        self.assertIn("agents: planner -> claude (found on PATH), implementer -> claude (found on PATH)", listing)
        result = self.env.run("init", **self.with_claude)
        self.assertEqual(result.returncode, 0, result.stderr)
        path = os.path.join(self.env.config, "config.json")
        with open(path) as f:
            written = json.load(f)
        self.assertEqual(written["agents"]["planner"], {"driver": "claude", "permissionMode": "acceptEdits"})
        self.assertEqual(sorted(written["agents"]), ["auditor", "implementer", "planner", "reporter"])
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        self.assertIn("Wrote %s: roles auditor, implementer, planner, reporter run claude" % path, result.stdout)
        self.assertIn("permissionMode: \"acceptEdits\"", result.stdout)

        self.assertIn("agents: planner -> claude, implementer -> claude", self.env.run("pipelines", **self.with_claude).stdout)
        with open(path) as f:
            before = f.read()
        again = self.env.run("init", **self.with_claude)
        self.assertEqual(again.returncode, 1)
        self.assertOneErrorLine(again, "exists already; drover init never overwrites a config")
        with open(path) as f:
            self.assertEqual(f.read(), before)

        nothing = self.env.run("init", "--workspace-config", **self.without_agents)
        self.assertEqual(nothing.returncode, 1)
        self.assertOneErrorLine(nothing, "found neither claude nor codex on PATH")
        self.assertFalse(os.path.exists(os.path.join(self.env.workspace, ".drover", "config.json")))

    def test_doctor_shows_each_role_its_program_version_and_login_without_secrets(self):
        secret = "sk-ant-" + uuid.uuid4().hex
        ready = self.env.run("doctor", ANTHROPIC_API_KEY=secret, **self.with_claude)
        self.assertEqual(ready.returncode, 0, ready.stdout + ready.stderr)
        self.assertRegex(ready.stdout, r"planner -> claude \(%s\)\s+\(chosen by drover: no agent configured" % re.escape(self.claude))
        self.assertIn("%s  9.9.9 (Claude Code)" % self.claude, ready.stdout)
        self.assertIn("looks logged in: ANTHROPIC_API_KEY is set", ready.stdout)
        self.assertNotIn(secret, ready.stdout + ready.stderr)

        logged_out = self.env.run("doctor", **self.with_claude)
        self.assertEqual(logged_out.returncode, 1)
        self.assertIn("not logged in: no API key variable and no credentials found", logged_out.stdout)
        with open(os.path.join(self.home, ".claude.json"), "w") as f:
            f.write("{}")
        self.assertIn("looks logged in: %s found" % os.path.join(self.home, ".claude.json"),
                      self.env.run("doctor", **self.with_claude).stdout)

        with open(os.path.join(self.env.config, "config.json"), "w") as f:
            json.dump({"agents": {"planner": {"driver": "codex"}}}, f)
        missing = self.env.run("doctor", **self.without_agents)
        self.assertEqual(missing.returncode, 1)
        self.assertIn("planner -> codex  (%s)" % os.path.join(self.env.config, "config.json"), missing.stdout)
        self.assertIn("codex: codex is not installed (not found on PATH); install Codex", missing.stdout)
        self.assertIn("implementer: no agent configured", missing.stdout)


class ErrorTests(CLITestCase):
    def test_errors_are_one_line_on_stderr(self):
        self.env.run("run", "demo", "--task", "x", "--yes")
        unknown_run = self.env.run("status", "r-nope")
        self.assertEqual(unknown_run.returncode, 1)
        self.assertOneErrorLine(unknown_run, "no run 'r-nope'")
        self.assertOneErrorLine(self.env.run("logs", "../../etc"), "no run")

        bad_flag = self.env.run("runs", "--bogus")
        self.assertEqual(bad_flag.returncode, 2)
        self.assertOneErrorLine(bad_flag, "--bogus")
        bad_status = self.env.run("runs", "--status", "sleepy")
        self.assertEqual(bad_status.returncode, 2)
        self.assertOneErrorLine(bad_status, "sleepy")
        no_task = self.env.run("run", "demo")
        self.assertEqual(no_task.returncode, 2)
        self.assertOneErrorLine(no_task, "--task")
        unknown_pipeline = self.env.run("run", "nope", "--task", "x")
        self.assertEqual(unknown_pipeline.returncode, 1)
        self.assertOneErrorLine(unknown_pipeline, "nope")
        unknown_command = self.env.run("frobnicate")
        self.assertEqual(unknown_command.returncode, 2)
        self.assertOneErrorLine(unknown_command, "frobnicate")
        missing_workspace = self.env.run("runs", "--workspace", "/nonexistent/place")
        self.assertEqual(missing_workspace.returncode, 1)
        self.assertOneErrorLine(missing_workspace, "/nonexistent/place")

    def test_help_lists_every_command(self):
        result = self.env.run("--help")
        self.assertEqual(result.returncode, 0)
        for command in ["demo", "run", "attach", "retry", "restart", "resume", "cancel", "diff", "apply", "discard", "gc", "runs", "status", "report", "logs",
                        "pipelines", "init", "doctor", "trust", "serve"]:
            self.assertRegex(result.stdout, r"\n  %s\s" % command)
        run_help = self.env.run("run", "--help")
        self.assertIn("--task TEXT", run_help.stdout)
        self.assertIn("--yes", run_help.stdout)

    def test_runs_in_an_empty_workspace(self):
        result = self.env.run("runs")
        self.assertEqual(result.returncode, 0)
        self.assertIn("No runs", result.stdout)


def git(cwd, *args):
    """Runs git in `cwd` as the user would (own identity), returning stdout; fails the test on error."""
    result = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd,
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, "git %s: %s" % (" ".join(args), result.stderr)
    return result.stdout


def writer_pipeline(files, name="Edit"):
    """One fake agent step that writes `files` (path -> text) in the run's working directory."""
    actions = [{"write": {"path": path, "text": text}} for path, text in sorted(files.items())]
    return {"name": name, "steps": [fake_step("impl", [actions + [{"result": "wrote %d file(s)" % len(files)}]])]}


class GitWorkspaceTestCase(CLITestCase):
    """A workspace that is a git repository on `main` with one commit (a.txt = "one")."""

    def setUp(self):
        super().setUp()
        ws = self.env.workspace
        git(ws, "init", "-q", "-b", "main")
        with open(os.path.join(ws, "a.txt"), "w") as f:
            f.write("one\n")
        git(ws, "add", "a.txt")
        git(ws, "commit", "-q", "-m", "init")
        self.env.pipeline("edit", writer_pipeline({"a.txt": "one\ntwo\n", "src/new.txt": "new\n"}))
        self.env.pipeline("other", writer_pipeline({"a.txt": "one\nother\n"}))
        self.env.trust()

    def finished_run(self, pipeline="edit"):
        result = self.env.run("run", pipeline, "--task", "edit", "--yes")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        return self.run_id(result)

    def read(self, relative):
        path = os.path.join(self.env.workspace, relative)
        return open(path).read() if os.path.exists(path) else None


class DiffApplyTests(GitWorkspaceTestCase):
    def test_diff_lists_the_files_then_the_patch_and_colours_it_on_a_terminal(self):
        run_id = self.finished_run()
        self.assertEqual(self.read("src/new.txt"), None, "the run worked in its own worktree")
        diff = self.env.run("diff", run_id)
        self.assertEqual(diff.returncode, 0, diff.stderr)
        self.assertIn("Run %s | 2 files changed, +2 -0" % run_id, diff.stdout)
        self.assertRegex(diff.stdout, r"\n  M\s+a\.txt\s+\+1 -0\n  A\s+src/new\.txt\s+\+1 -0\n")
        self.assertIn("diff --git a/a.txt b/a.txt", diff.stdout)
        self.assertIn("\n+two\n", diff.stdout)
        self.assertNotIn("\x1b[", diff.stdout)
        stat = self.env.run("diff", run_id, "impl", "--stat")
        self.assertIn("Run %s, step impl | 2 files changed" % run_id, stat.stdout)
        self.assertNotIn("diff --git", stat.stdout)
        session = self.pty("diff", run_id)
        self.assertEqual(session.wait(), 0)
        self.assertIn("\x1b[32m+two\x1b[0m", session.text())
        self.assertIn("\x1b[1mdiff --git a/a.txt b/a.txt\x1b[0m", session.text())

    def test_apply_merges_by_default_and_refuses_a_second_time(self):
        run_id = self.finished_run()
        applied = self.env.run("apply", run_id)
        self.assertEqual(applied.returncode, 0, applied.stdout + applied.stderr)
        self.assertIn("Run %s applied (merge) into main as commit" % run_id, applied.stdout)
        self.assertEqual(self.read("a.txt"), "one\ntwo\n")
        self.assertEqual(self.read("src/new.txt"), "new\n")
        self.assertIn("drover: apply run %s (merge)" % run_id, git(self.env.workspace, "log", "-1", "--format=%s"))
        self.assertFalse(os.path.exists(os.path.join(self.env.workspace, ".drover", "worktrees", run_id)))
        again = self.env.run("apply", run_id)
        self.assertEqual(again.returncode, 1)
        self.assertOneErrorLine(again, "already applied")

    def test_apply_squash_patch_and_a_conflict_that_changes_nothing(self):
        first, second = self.finished_run(), self.finished_run("other")
        both = self.env.run("apply", first, "--squash", "--patch")
        self.assertEqual(both.returncode, 2)
        self.assertOneErrorLine(both, "give one")
        squashed = self.env.run("apply", first, "--squash")
        self.assertEqual(squashed.returncode, 0, squashed.stderr)
        self.assertIn("applied (squash) into main", squashed.stdout)
        head = git(self.env.workspace, "rev-parse", "HEAD")
        conflict = self.env.run("apply", second, "--patch")
        self.assertEqual(conflict.returncode, 1)
        self.assertOneErrorLine(conflict, "conflicts with your branch in a.txt", "Your working tree was not changed")
        self.assertEqual(git(self.env.workspace, "rev-parse", "HEAD"), head)
        self.assertEqual(self.read("a.txt"), "one\ntwo\n")
        self.assertEqual(git(self.env.workspace, "status", "--porcelain"), "")

    def test_report_prints_the_run_and_writes_its_file_when_asked(self):
        run_id = self.finished_run()
        written = os.path.join(self.env.workspace, ".drover", "reports", run_id + ".md")
        self.assertFalse(os.path.exists(written), "no report file until one is asked for")
        report = self.env.run("report", run_id)
        self.assertEqual(report.returncode, 0, report.stderr)
        self.assertIn("# Run %s: edit" % run_id, report.stdout)
        self.assertIn("| impl | agent | done | 1 |", report.stdout)
        self.assertIn(" 2 files changed, 2 insertions(+)", report.stdout)
        with open(written) as f:
            self.assertEqual(f.read(), report.stdout, "drover report writes the page it prints")
        self.assertEqual(os.stat(written).st_mode & 0o777, 0o600)

    def test_diff_and_apply_errors_are_one_line(self):
        for command in ("diff", "apply"):
            unknown = self.env.run(command, "r-nope")
            self.assertEqual(unknown.returncode, 1)
            self.assertOneErrorLine(unknown)
        run_id = self.finished_run()
        no_step = self.env.run("diff", run_id, "nope")
        self.assertEqual(no_step.returncode, 1)
        self.assertOneErrorLine(no_step, "has no step 'nope'")


class DiscardGCTests(GitWorkspaceTestCase):
    def branches(self):
        return git(self.env.workspace, "branch", "--list", "drover/*", "--format=%(refname:short)").split()

    def test_gc_removes_finished_worktrees_keeps_unmerged_branches_and_says_what_it_freed(self):
        applied, unmerged = self.finished_run(), self.finished_run("other")
        self.assertEqual(self.env.run("apply", applied).returncode, 0)
        worktree = os.path.join(self.env.workspace, ".drover", "worktrees", unmerged)
        with open(os.path.join(worktree, "big.bin"), "wb") as f:
            f.write(os.urandom(2 * 1024 * 1024))
        recent = self.env.run("gc")
        self.assertEqual(recent.returncode, 0, recent.stderr)
        self.assertIn("Nothing to collect: no finished isolated run is older than 7d", recent.stdout)
        self.assertTrue(os.path.isdir(worktree))

        collected = self.env.run("gc", "--older-than", "0")
        self.assertEqual(collected.returncode, 0, collected.stderr)
        self.assertIn("%s (done): deleted branch drover/%s" % (applied, applied), collected.stdout)
        self.assertRegex(collected.stdout, r"%s \(done\): removed its worktree \(2\.\d MB\)" % unmerged)
        self.assertIn("kept branch drover/%s: it has commits not merged into your branch" % unmerged, collected.stdout)
        self.assertRegex(collected.stdout, r"Freed 2\.\d MB from 1 worktree; branches deleted: 1, 1 kept")
        self.assertFalse(os.path.exists(worktree))
        self.assertEqual(self.branches(), ["drover/" + unmerged], "an unmerged branch is never deleted without --force")
        self.assertIn("was discarded", self.env.run("diff", unmerged).stderr)

        forced = self.env.run("gc", "--older-than", "0", "--force")
        self.assertIn("%s (done): deleted branch drover/%s" % (unmerged, unmerged), forced.stdout)
        self.assertEqual(self.branches(), [])
        self.assertIn("Nothing to collect", self.env.run("gc", "--older-than", "0", "--force").stdout)
        bad = self.env.run("gc", "--older-than", "soon")
        self.assertEqual(bad.returncode, 2)
        self.assertOneErrorLine(bad, "30m, 12h, 7d")

    def test_discard_keeps_an_unmerged_branch_until_forced(self):
        run_id = self.finished_run()
        discarded = self.env.run("discard", run_id)
        self.assertEqual(discarded.returncode, 0, discarded.stderr)
        self.assertIn("Run %s discarded" % run_id, discarded.stdout)
        self.assertIn("branch drover/%s kept" % run_id, discarded.stdout)
        self.assertEqual(self.branches(), ["drover/" + run_id])
        forced = self.env.run("discard", run_id, "--force")
        self.assertIn("branch drover/%s deleted" % run_id, forced.stdout)
        self.assertEqual(self.branches(), [])
        again = self.env.run("discard", run_id)
        self.assertEqual(again.returncode, 1)
        self.assertOneErrorLine(again, "discarded already")
        self.assertEqual(self.read("a.txt"), "one\n", "the user's tree never changed")


def main():
    if not os.access(BIN, os.X_OK):
        print("drover binary not found at %s; run 'swift build' or set DROVER_BIN" % BIN, file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    argv = [a for a in sys.argv[1:] if a != "-v"]
    loader = unittest.TestLoader()
    suite = loader.loadTestsFromNames(argv, sys.modules[__name__]) if argv else loader.loadTestsFromModule(sys.modules[__name__])
    runner = unittest.TextTestRunner(verbosity=2 if "-v" in sys.argv else 1, stream=sys.stdout)
    result = runner.run(suite)
    # A test with several failing subtests counts once.
    failed = len({getattr(test, "test_case", test).id() for test, _ in result.failures + result.errors})
    print("%d passed, %d failed" % (result.testsRun - failed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
