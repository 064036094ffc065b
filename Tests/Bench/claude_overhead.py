"""Drover's overhead on a 10-turn scripted Claude session: wall time of `drover run` (one claude step)
divided by the same Claude Code CLI call alone, against the same scripted model server
(Tests/Agents/fake_anthropic.py). One run each, after a warm-up. Needs `pip install claude-agent-sdk`
and `swift build`.

Usage: python3 Tests/Bench/claude_overhead.py"""
import json, os, shutil, subprocess, tempfile, time
repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
claude = subprocess.run(["python3", f"{repo}/Tests/Agents/locate_claude.py"], capture_output=True, text=True).stdout.strip()
drover = f"{repo}/.build/debug/drover"
root = tempfile.mkdtemp(prefix="drover-claude-bench-")
ws = f"{root}/ws"; os.makedirs(f"{ws}/.drover/pipelines"); os.makedirs(f"{root}/home"); os.makedirs(f"{root}/tmp")
turns = [{"content": [{"type": "text", "text": f"turn {i}"}, {"type": "tool_use", "name": "Write",
          "input": {"file_path": f"{ws}/f{i}.txt", "content": f"{i}\n"}}], "usage": {"input_tokens": 10, "output_tokens": 5}} for i in range(9)]
turns.append({"content": [{"type": "text", "text": "all done"}], "usage": {"input_tokens": 10, "output_tokens": 5}})
json.dump(turns, open(f"{root}/script.json", "w"))
def server():
    p = subprocess.Popen(["python3", f"{repo}/Tests/Agents/fake_anthropic.py", "--script", f"{root}/script.json", "--log", f"{root}/req.log"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return p, p.stdout.readline().split()[1]
def env(port):
    return {"ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}", "ANTHROPIC_API_KEY": "test", "HOME": f"{root}/home", "TMPDIR": f"{root}/tmp",
            "DISABLE_TELEMETRY": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1", "DISABLE_ERROR_REPORTING": "1"}
def alone():
    p, port = server()
    t = time.monotonic()
    r = subprocess.run([claude, "-p", "--output-format", "stream-json", "--verbose", "--permission-mode", "acceptEdits",
                        "--disallowedTools", "Bash(git push:*)", "--model", "claude-sonnet-4-5"], input="Write ten files", capture_output=True,
                       text=True, cwd=ws, env={"PATH": os.environ["PATH"], **env(port)})
    dt = time.monotonic() - t
    p.stdin.close(); p.wait()
    assert '"all done"' in r.stdout, r.stdout[-500:]
    return dt
def through_drover():
    p, port = server()
    json.dump({"agents": {"coder": {"driver": "claude", "model": "claude-sonnet-4-5", "command": claude, "env": env(port)}}},
              open(f"{ws}/.drover/config.json", "w"))
    json.dump({"name": "bench", "steps": [{"id": "code", "kind": "agent", "role": "coder", "prompt": "Write ten files"}]},
              open(f"{ws}/.drover/pipelines/bench.json", "w"))
    e = {**os.environ, "DROVER_CONFIG_DIR": f"{root}/config", "HOME": f"{root}/home"}
    subprocess.run([drover, "trust"], cwd=ws, env=e, check=True, capture_output=True)
    t = time.monotonic()
    r = subprocess.run([drover, "run", "bench", "--task", "ten files"], cwd=ws, env=e, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    dt = time.monotonic() - t
    p.stdin.close(); p.wait()
    assert r.returncode == 0, r.stdout[-1500:] + r.stderr[-1500:]
    return dt
alone()  # warm-up: page the 400 MB binary in
a = alone(); d = through_drover()
print(f"claude alone: {a:.2f} s; through drover run: {d:.2f} s; ratio {d/a:.2f}")
shutil.rmtree(root, ignore_errors=True)
