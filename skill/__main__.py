"""``python -m skill`` runs the ``massage-coach`` command."""

from skill.app.cli import main

raise SystemExit(main())
