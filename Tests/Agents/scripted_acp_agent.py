#!/usr/bin/env python3
"""A scripted Agent Client Protocol agent, written with the ACP Python SDK (`pip install
agent-client-protocol`): the SDK speaks the protocol (JSON-RPC over stdio, its schema), the script says
what the agent does, so tests drive the `acp` driver against real ACP plumbing they did not write.

Script (JSON file given with --script): a list of actions, played in order for the first prompt:
  {"say": "text"}                      agent_message_chunk (sent in two chunks, to show they join)
  {"think": "text"}                    agent_thought_chunk
  {"plan": ["step", ...], "done": N}   plan: the first N entries completed
  {"write": "path", "content": "..."}  an `edit` tool call: asks permission, then fs/write_text_file
  {"read": "path"}                     a `read` tool call: fs/read_text_file (no permission asked)
  {"run": "command"}                   an `execute` tool call: asks permission; nothing really runs
  {"usage": {"inputTokens": N, "outputTokens": N}, "cost": USD}   usage_update with the session's cost so far;
                                       the tokens are reported with the prompt's response
  {"sleep": seconds}
  {"crash": "message"}                 prints the message on stderr and exits 3 mid-turn
  {"stop": "refusal" | "max_tokens" | ...}   ends the turn with that stop reason (default end_turn)
A tool call whose permission is rejected, or whose file request the client refuses, ends `failed` and
the agent says so; the turn goes on.

--record FILE appends one JSON line per answer the client gives (`{"permission": outcome, "optionId"?}`)
and per `session/cancel` (`{"cancel": sessionId}`), so tests can see what reached the agent.
--finish-on-term: SIGTERM does not stop the agent at once (it exits 1 s later), so what the client sent
just before stopping it is still read and recorded.
"""

import argparse
import asyncio
import json
import os
import signal
import sys
import threading
import uuid

from acp import (
    PROTOCOL_VERSION,
    RequestError,
    plan_entry,
    run_agent,
    start_tool_call,
    text_block,
    update_agent_message_text,
    update_agent_thought_text,
    update_plan,
    update_tool_call,
)
from acp.schema import (
    AgentCapabilities,
    Cost,
    InitializeResponse,
    NewSessionResponse,
    PermissionOption,
    PromptResponse,
    ToolCallLocation,
    ToolCallUpdate,
    Usage,
    UsageUpdate,
)

OPTIONS = [
    PermissionOption(option_id="allow-always", name="Always Allow", kind="allow_always"),
    PermissionOption(option_id="allow", name="Allow", kind="allow_once"),
    PermissionOption(option_id="reject", name="Reject", kind="reject_once"),
]


class ScriptedAgent:
    def __init__(self, actions, record=None):
        self.actions = actions
        self.record_path = record
        self.client = None
        self.cwd = None

    def on_connect(self, conn):
        self.client = conn

    async def initialize(self, protocol_version, client_capabilities=None, client_info=None, **kwargs):
        return InitializeResponse(protocol_version=PROTOCOL_VERSION, agent_capabilities=AgentCapabilities(load_session=False))

    async def new_session(self, cwd, mcp_servers=None, **kwargs):
        self.cwd = cwd
        return NewSessionResponse(session_id="sess-" + uuid.uuid4().hex[:8])

    async def cancel(self, session_id, **kwargs):
        self.record({"cancel": session_id})

    def record(self, entry):
        if self.record_path:
            with open(self.record_path, "a", encoding="utf-8") as file:
                file.write(json.dumps(entry) + "\n")

    async def prompt(self, prompt, session_id, **kwargs):
        usage = None
        for action in self.actions:
            if "say" in action:
                text = action["say"]
                half = len(text) // 2
                for chunk in (text[:half], text[half:]):
                    await self.update(session_id, update_agent_message_text(chunk))
            elif "think" in action:
                await self.update(session_id, update_agent_thought_text(action["think"]))
            elif "plan" in action:
                done = action.get("done", 0)
                await self.update(session_id, update_plan(
                    [plan_entry(entry, status="completed" if index < done else "pending")
                     for index, entry in enumerate(action["plan"])]))
            elif "write" in action:
                await self.write(session_id, action["write"], action.get("content", ""))
            elif "read" in action:
                await self.read(session_id, action["read"])
            elif "run" in action:
                await self.run(session_id, action["run"])
            elif "usage" in action:
                usage = action["usage"]
                cost = Cost(amount=action["cost"], currency="USD") if "cost" in action else None
                await self.update(session_id, UsageUpdate(session_update="usage_update", used=usage.get("inputTokens", 0),
                                                          size=200000, cost=cost))
            elif "sleep" in action:
                await asyncio.sleep(action["sleep"])
            elif "crash" in action:
                print(action["crash"], file=sys.stderr, flush=True)
                sys.stdout.flush()
                os._exit(3)
            elif "stop" in action:
                return PromptResponse(stop_reason=action["stop"])
        tokens = None
        if usage is not None:
            tokens = Usage(input_tokens=usage.get("inputTokens", 0), output_tokens=usage.get("outputTokens", 0),
                           total_tokens=usage.get("inputTokens", 0) + usage.get("outputTokens", 0))
        return PromptResponse(stop_reason="end_turn", usage=tokens)

    async def update(self, session_id, update):
        await self.client.session_update(session_id=session_id, update=update)

    def absolute(self, path):
        return path if path.startswith("/") else f"{self.cwd}/{path}"

    async def allowed(self, session_id, call_id, title, kind, raw_input):
        response = await self.client.request_permission(
            session_id=session_id, options=OPTIONS,
            tool_call=ToolCallUpdate(tool_call_id=call_id, title=title, kind=kind, status="pending", raw_input=raw_input))
        outcome = response.outcome
        entry = {"permission": getattr(outcome, "outcome", None)}
        if getattr(outcome, "option_id", None):
            entry["optionId"] = outcome.option_id
        self.record(entry)
        return getattr(outcome, "outcome", None) == "selected" and outcome.option_id.startswith("allow")

    async def write(self, session_id, path, content):
        path = self.absolute(path)
        call_id = "call-" + uuid.uuid4().hex[:8]
        title = f"Write {path}"
        await self.update(session_id, start_tool_call(call_id, title, kind="edit", status="pending",
                                                      locations=[ToolCallLocation(path=path)],
                                                      raw_input={"path": path, "content": content}))
        if not await self.allowed(session_id, call_id, title, "edit", {"path": path}):
            await self.update(session_id, update_tool_call(call_id, status="failed"))
            await self.update(session_id, update_agent_message_text(f"Not allowed to write {path}."))
            return
        try:
            await self.client.write_text_file(session_id=session_id, path=path, content=content)
        except RequestError as error:
            await self.update(session_id, update_tool_call(call_id, status="failed"))
            await self.update(session_id, update_agent_message_text(f"Could not write {path}: {error}."))
            return
        await self.update(session_id, update_tool_call(call_id, status="completed"))

    async def read(self, session_id, path):
        path = self.absolute(path)
        call_id = "call-" + uuid.uuid4().hex[:8]
        await self.update(session_id, start_tool_call(call_id, f"Read {path}", kind="read", status="in_progress",
                                                      locations=[ToolCallLocation(path=path)]))
        try:
            response = await self.client.read_text_file(session_id=session_id, path=path)
        except RequestError as error:
            await self.update(session_id, update_tool_call(call_id, status="failed"))
            await self.update(session_id, update_agent_message_text(f"Could not read {path}: {error}."))
            return
        await self.update(session_id, update_tool_call(call_id, status="completed"))
        await self.update(session_id, update_agent_message_text(f"{path} says: {response.content.strip()}"))

    async def run(self, session_id, command):
        call_id = "call-" + uuid.uuid4().hex[:8]
        await self.update(session_id, start_tool_call(call_id, command, kind="execute", status="pending",
                                                      raw_input={"command": command}))
        if not await self.allowed(session_id, call_id, command, "execute", {"command": command}):
            await self.update(session_id, update_tool_call(call_id, status="failed"))
            await self.update(session_id, update_agent_message_text(f"Not allowed to run {command}."))
            return
        await self.update(session_id, update_tool_call(call_id, status="completed"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--script", required=True, help="JSON file: the list of actions")
    parser.add_argument("--record", help="JSON lines file: the client's answers and cancels, as they arrive")
    parser.add_argument("--finish-on-term", action="store_true", help="exit 1 s after SIGTERM, not at once")
    arguments = parser.parse_args()
    with open(arguments.script, encoding="utf-8") as file:
        actions = json.load(file)
    if arguments.finish_on_term:
        signal.signal(signal.SIGTERM, lambda *_: threading.Timer(1.0, lambda: os._exit(0)).start())
    asyncio.run(run_agent(ScriptedAgent(actions, arguments.record)))


if __name__ == "__main__":
    main()
