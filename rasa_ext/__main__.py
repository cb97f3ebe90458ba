"""``python -m rasa_ext <rasa arguments>``: the ``rasa`` command with the extensions.

``make run`` starts the Rasa server as ``python -m rasa_ext run …`` and ``make
shell`` the terminal chat as ``python -m rasa_ext shell …``: both serve Rasa
in this process, so log redaction and the hardened server apply to either.
"""

import rasa_ext


def main() -> None:
    """Install the extensions, then run Rasa's command line on ``sys.argv``."""
    rasa_ext.install()
    # Imported only now: the patches must be in place before Rasa's CLI loads.
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
