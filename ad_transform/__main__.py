"""``python -m ad_transform``: see :mod:`ad_transform.cli`."""

from .cli import main

raise SystemExit(main())
