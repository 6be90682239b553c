"""Flex Template entry point: ``wirewatch run`` with the template's parameters.

Dataflow's launcher runs this file as ``python launch.py --feeds=... --output=... --runner=...``
(``FLEX_TEMPLATE_PYTHON_PY_FILE`` in the Dockerfile); parameters arrive as Beam-style options.
A Flex Template launcher must exit once the job is submitted, hence ``--no_wait_until_finish``.
"""

import sys

from wirewatch.pipelines.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "--no_wait_until_finish", *sys.argv[1:]]))
