"""``python -m wirewatch`` is the ``wirewatch`` command."""

import sys

from wirewatch.pipelines.cli import main

sys.exit(main())
