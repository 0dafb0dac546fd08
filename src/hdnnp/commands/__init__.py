"""Subcommands of the ``hdnnp`` command line that live in modules of their own.

Each module exports ``COMMAND``, a :class:`~hdnnp.commands.common.Command`; :mod:`hdnnp.cli`
registers them. Shared pieces (errors reported without a traceback, loading a model,
reading structures, checking a device) are in :mod:`hdnnp.commands.common`.
"""
