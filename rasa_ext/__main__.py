"""``python -m rasa_ext <rasa arguments>``: the ``rasa`` command with the extensions."""

import sys

import rasa_ext

rasa_ext.install()

from rasa.__main__ import main  # noqa: E402  (the patch must be in place first)

sys.exit(main())
