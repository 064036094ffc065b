#!/usr/bin/env python3
"""A scripted Anthropic Messages API server, so the real Claude Code CLI can run offline in tests.

Each model request (a POST to /v1/messages that offers tools, i.e. one turn of the agent loop) plays
the next turn of the script; requests the CLI makes on the side (title or topic suggestions, quota
checks: no tools) get a short fixed answer and use no turn. Every request is appended to the log
file as one JSON line, so tests can assert what the CLI sent back (tool results, resumed history).

Script: a JSON list of turns, each one of
  {"content": [{"type": "text", "text": "..."},
               {"type": "tool_use", "name": "Write", "input": {...}, "id"?: "..."}],
   "usage": {"input_tokens": N, "output_tokens": N,
             "cache_read_input_tokens"?: N, "cache_creation_input_tokens"?: N},
   "stop_reason"?: "end_turn" | "tool_use"}   (default: tool_use when there is a tool_use block)
  {"error": {"status": 429 | 500 | 529 | 401 | ..., "message"?: "...", "retry_after"?: seconds}}
When the script runs out, a turn answers "(script exhausted)" so a runaway CLI ends rather than hangs.

Usage: fake_anthropic.py --script FILE --log FILE
The script is read at the first model request, so it may be written after the server started.
Listens on 127.0.0.1 on a free port and prints `PORT <n>` as its first line of stdout; serves
until stdin closes (so it never outlives the test that started it) or it is killed.
"""

import json
import uuid
from http.server import BaseHTTPRequestHandler

from scripted_server import read_body, send_json, serve

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def sse(event, data):
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def message_events(turn, model):
    """The SSE events of one streamed message, as the Messages API sends them."""
    usage = dict(turn.get("usage") or {})
    usage.setdefault("input_tokens", 0)
    usage.setdefault("output_tokens", 0)
    usage.setdefault("cache_read_input_tokens", 0)
    usage.setdefault("cache_creation_input_tokens", 0)
    content = turn.get("content") or []
    has_tool_use = any(block.get("type") == "tool_use" for block in content)
    stop_reason = turn.get("stop_reason") or ("tool_use" if has_tool_use else "end_turn")
    start_usage = dict(usage, output_tokens=1)
    yield sse("message_start", {"type": "message_start", "message": {
        "id": "msg_" + uuid.uuid4().hex[:24], "type": "message", "role": "assistant", "model": model,
        "content": [], "stop_reason": None, "stop_sequence": None, "usage": start_usage}})
    for index, block in enumerate(content):
        if block.get("type") == "tool_use":
            start = {"type": "tool_use", "id": block.get("id") or "toolu_" + uuid.uuid4().hex[:24],
                     "name": block["name"], "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block.get("input") or {})}
        else:
            start = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": block.get("text", "")}
        yield sse("content_block_start", {"type": "content_block_start", "index": index, "content_block": start})
        yield sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
        yield sse("content_block_stop", {"type": "content_block_stop", "index": index})
    yield sse("message_delta", {"type": "message_delta",
                                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                                "usage": {"output_tokens": usage["output_tokens"]}})
    yield sse("message_stop", {"type": "message_stop"})


def make_handler(script):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # noqa: A002 - the base class's name
            pass  # requests are logged as JSON lines instead

        def do_GET(self):
            script.log({"method": "GET", "path": self.path})
            self.send_json(404, {"type": "error", "error": {"type": "not_found_error", "message": "not scripted"}})

        def do_HEAD(self):
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self):
            body = read_body(self)
            path = self.path.split("?", 1)[0]
            if path.endswith("/count_tokens"):
                script.log({"method": "POST", "path": path, "side": True})
                self.send_json(200, {"input_tokens": 1})
                return
            if not path.endswith("/v1/messages"):
                script.log({"method": "POST", "path": path})
                self.send_json(404, {"type": "error", "error": {"type": "not_found_error", "message": "not scripted"}})
                return
            model = body.get("model", "claude-sonnet-4-5")
            # The agent loop always offers its tools; side requests (titles, quota checks) do not.
            if not body.get("tools"):
                script.log({"method": "POST", "path": path, "side": True, "body": body})
                self.send_message(body, {"content": [{"type": "text", "text": "Scripted side answer"}],
                                         "usage": {"input_tokens": 1, "output_tokens": 1}}, model)
                return
            number, turn = script.take_turn()
            script.log({"method": "POST", "path": path, "turn": number, "body": body})
            error = turn.get("error")
            if error is not None:
                self.send_error_turn(error)
                return
            self.send_message(body, turn, model)

        def send_error_turn(self, error):
            status = int(error.get("status", 500))
            payload = {"type": "error", "error": {"type": ERROR_TYPES.get(status, "api_error"),
                                                  "message": error.get("message", f"scripted error {status}")}}
            headers = {}
            if "retry_after" in error:
                headers["retry-after"] = str(error["retry_after"])
            self.send_json(status, payload, headers)

        def send_message(self, body, turn, model):
            events = b"".join(message_events(turn, model))
            if body.get("stream"):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Content-Length", str(len(events)))
                self.send_header("request-id", "req_" + uuid.uuid4().hex[:24])
                self.end_headers()
                self.wfile.write(events)
                return
            self.send_json(200, whole_message(turn, model))

        def send_json(self, status, payload, headers=None):
            send_json(self, status, payload, dict(headers or {}, **{"request-id": "req_" + uuid.uuid4().hex[:24]}))

    return Handler


def whole_message(turn, model):
    """The non-streamed form of a turn (the CLI's side requests sometimes ask for it)."""
    content = []
    for block in turn.get("content") or []:
        if block.get("type") == "tool_use":
            content.append({"type": "tool_use", "id": block.get("id") or "toolu_" + uuid.uuid4().hex[:24],
                            "name": block["name"], "input": block.get("input") or {}})
        else:
            content.append({"type": "text", "text": block.get("text", "")})
    usage = dict(turn.get("usage") or {})
    usage.setdefault("input_tokens", 0)
    usage.setdefault("output_tokens", 0)
    has_tool_use = any(block["type"] == "tool_use" for block in content)
    return {"id": "msg_" + uuid.uuid4().hex[:24], "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": "tool_use" if has_tool_use else "end_turn",
            "stop_sequence": None, "usage": usage}


if __name__ == "__main__":
    serve(__doc__.splitlines()[0], make_handler, exhausted={
        "content": [{"type": "text", "text": "(script exhausted)"}], "usage": {"input_tokens": 1, "output_tokens": 1}})
