"""``python -m dashboard.diagnose``: the headless diagnosis (see :mod:`dashboard.diagnose.command`)."""

import sys

from dashboard.diagnose.command import main

sys.exit(main())
