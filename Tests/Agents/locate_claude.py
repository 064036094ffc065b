#!/usr/bin/env python3
"""Prints the path of the Claude Code CLI bundled in the claude-agent-sdk wheel, or nothing if the
wheel is not installed. find_spec does not import the package (which pulls in much more than its path)."""

import importlib.util
import os

spec = importlib.util.find_spec("claude_agent_sdk")
if spec and spec.submodule_search_locations:
    path = os.path.join(spec.submodule_search_locations[0], "_bundled", "claude")
    if os.access(path, os.X_OK):
        print(path)
