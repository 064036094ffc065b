#!/usr/bin/env python3
"""A scripted OpenAI Responses API server, so the real Codex CLI can run offline in tests.

Each model request (a POST to /v1/responses) plays the next turn of the script as a server-sent event
stream, the way the Responses API streams (`response.created`, `response.output_item.added` /
`.done` per item, `response.completed` with usage). Every request is appended to the log file as one
JSON line, so tests can assert what the CLI sent back (command output, patch results, resumed history).
Requests for anything else (model lists and the like) get a 404 and use no turn.

Script: a JSON list of turns, each one of
  {"output": [{"type": "text", "text": "..."},
              {"type": "exec", "cmd": "echo hi"}                       (an `exec_command` function call)
              {"type": "shell", "command": ["bash", "-lc", "echo hi"]} (a `shell` function call)
              {"type": "patch", "patch": "*** Begin Patch\\n...*** End Patch"}  (the `apply_patch` custom tool)
              {"type": "reasoning", "text": "..."}],
   "usage": {"input_tokens": N, "output_tokens": N, "cached_input_tokens"?: N, "reasoning_output_tokens"?: N}}
  {"error": {"status": 429 | 500 | 401 | ..., "message"?: "...", "code"?: "...", "retry_after"?: seconds}}
      an HTTP error response
  {"failed": {"code": "rate_limit_exceeded" | "server_error" | ..., "message": "..."}}
      a stream that ends in `response.failed`
When the script runs out, a turn answers "(script exhausted)" so a runaway CLI ends rather than hangs.

Usage: fake_openai_responses.py --script FILE --log FILE
The script is read at the first model request, so it may be written after the server started.
Listens on 127.0.0.1 on a free port and prints `PORT <n>` as its first line of stdout; serves
until stdin closes (so it never outlives the test that started it) or it is killed.
"""

import json
import uuid
from http.server import BaseHTTPRequestHandler

from scripted_server import read_body, send_events, send_json, serve

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "invalid_request_error",
    404: "invalid_request_error",
    429: "rate_limit_exceeded",
    500: "server_error",
    503: "server_error",
}


def sse(data):
    return f"event: {data['type']}\ndata: {json.dumps(data)}\n\n".encode()


def new_id(prefix):
    return prefix + "_" + uuid.uuid4().hex[:24]


def output_item(block):
    """The Responses API item for one scripted output block."""
    kind = block.get("type")
    if kind == "exec":
        arguments = {"cmd": block["cmd"]}
        if "workdir" in block:
            arguments["workdir"] = block["workdir"]
        return {"type": "function_call", "id": new_id("fc"), "status": "completed", "name": "exec_command",
                "arguments": json.dumps(arguments), "call_id": new_id("call")}
    if kind == "shell":
        return {"type": "function_call", "id": new_id("fc"), "status": "completed", "name": "shell",
                "arguments": json.dumps({"command": block["command"]}), "call_id": new_id("call")}
    if kind == "patch":
        return {"type": "custom_tool_call", "id": new_id("ctc"), "status": "completed", "name": "apply_patch",
                "input": block["patch"], "call_id": new_id("call")}
    if kind == "reasoning":
        return {"type": "reasoning", "id": new_id("rs"),
                "summary": [{"type": "summary_text", "text": block.get("text", "")}]}
    return {"type": "message", "id": new_id("msg"), "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": block.get("text", ""), "annotations": []}]}


def usage_of(turn):
    usage = turn.get("usage") or {}
    input_tokens = int(usage.get("input_tokens", 0))
    output_tokens = int(usage.get("output_tokens", 0))
    return {"input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": int(usage.get("cached_input_tokens", 0))},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": int(usage.get("reasoning_output_tokens", 0))},
            "total_tokens": input_tokens + output_tokens}


def response_events(turn, model):
    """The SSE events of one streamed response."""
    response_id = new_id("resp")
    base = {"id": response_id, "object": "response", "model": model}
    yield sse({"type": "response.created", "response": dict(base, status="in_progress")})
    failure = turn.get("failed")
    if failure is not None:
        yield sse({"type": "response.failed", "response": dict(base, status="failed", error={
            "code": failure.get("code", "server_error"), "message": failure.get("message", "scripted failure")})})
        return
    for index, block in enumerate(turn.get("output") or []):
        item = output_item(block)
        yield sse({"type": "response.output_item.added", "output_index": index, "item": item})
        if item["type"] == "message":
            yield sse({"type": "response.output_text.delta", "output_index": index, "item_id": item["id"],
                       "content_index": 0, "delta": block.get("text", "")})
        yield sse({"type": "response.output_item.done", "output_index": index, "item": item})
    yield sse({"type": "response.completed", "response": dict(base, status="completed", usage=usage_of(turn))})


def make_handler(script):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # noqa: A002 - the base class's name
            pass  # requests are logged as JSON lines instead

        def do_GET(self):
            script.log({"method": "GET", "path": self.path})
            send_json(self, 404, {"error": {"type": "invalid_request_error", "message": "not scripted"}})

        def do_POST(self):
            body = read_body(self)
            path = self.path.split("?", 1)[0]
            if not path.endswith("/responses"):
                script.log({"method": "POST", "path": path})
                send_json(self, 404, {"error": {"type": "invalid_request_error", "message": "not scripted"}})
                return
            number, turn = script.take_turn()
            script.log({"method": "POST", "path": path, "turn": number, "body": body})
            error = turn.get("error")
            if error is not None:
                self.send_error_turn(error)
                return
            send_events(self, b"".join(response_events(turn, body.get("model", "gpt-5.4"))))

        def send_error_turn(self, error):
            status = int(error.get("status", 500))
            payload = {"error": {"type": error.get("code", ERROR_TYPES.get(status, "server_error")),
                                 "code": error.get("code", ERROR_TYPES.get(status, "server_error")),
                                 "message": error.get("message", f"scripted error {status}")}}
            headers = {}
            if "retry_after" in error:
                headers["retry-after"] = str(error["retry_after"])
            send_json(self, status, payload, headers)

    return Handler


if __name__ == "__main__":
    serve(__doc__.splitlines()[0], make_handler, exhausted={
        "output": [{"type": "text", "text": "(script exhausted)"}], "usage": {"input_tokens": 1, "output_tokens": 1}})
