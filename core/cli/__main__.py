"""``python -m core.cli``: the same as the ``slipstream`` command."""

import sys

from core.cli.commands import main

sys.exit(main())
