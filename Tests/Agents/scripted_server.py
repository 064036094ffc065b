"""What the scripted model servers (fake_anthropic.py, fake_openai_responses.py) share: the script of
turns and the request log, JSON responses, and serving on a free port until stdin closes."""

import argparse
import json
import sys
import threading
from http.server import ThreadingHTTPServer


class Script:
    """The scripted turns and the request log, shared by the handler threads."""

    def __init__(self, script_path, log_path, exhausted):
        self.script_path = script_path
        self.turns = None  # read at the first model request, so a test may write it after starting us
        self.next_turn = 0
        self.log_path = log_path
        self.exhausted = exhausted  # the turn played once the script has run out, so a runaway CLI ends
        self.lock = threading.Lock()

    def take_turn(self):
        """The next turn, and its number (from 1)."""
        with self.lock:
            if self.turns is None:
                with open(self.script_path, encoding="utf-8") as file:
                    self.turns = json.load(file)
            self.next_turn += 1
            if self.next_turn > len(self.turns):
                return self.next_turn, self.exhausted
            return self.next_turn, self.turns[self.next_turn - 1]

    def log(self, entry):
        with self.lock, open(self.log_path, "a", encoding="utf-8") as log:
            log.write(json.dumps(entry) + "\n")


def send_json(handler, status, payload, headers=None):
    """Answers `handler`'s request with `payload` as JSON."""
    data = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)


def send_events(handler, events):
    """Answers `handler`'s request with a whole server-sent event stream."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.send_header("Cache-Control", "no-cache")
    handler.send_header("Content-Length", str(len(events)))
    handler.end_headers()
    handler.wfile.write(events)


def read_body(handler):
    length = int(handler.headers.get("Content-Length") or 0)
    raw = handler.rfile.read(length) if length else b""
    try:
        return json.loads(raw or b"{}")
    except ValueError:
        return {"unparsed": raw.decode("utf-8", "replace")}


def serve(description, make_handler, exhausted):
    """Parses --script and --log, listens on 127.0.0.1 on a free port, prints `PORT <n>` and serves
    until stdin closes (so the server never outlives the test that started it) or it is killed."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--script", required=True, help="JSON file: the list of turns")
    parser.add_argument("--log", required=True, help="file to append one JSON line per request to")
    arguments = parser.parse_args()
    script = Script(arguments.script, arguments.log, exhausted)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(script))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"PORT {server.server_address[1]}", flush=True)
    sys.stdin.read()
    server.shutdown()
