"""What both classchat clients share, with no user interface in it: the session with a server (``session``,
the façade the views use, over ``transport``, ``handlers`` and ``state``; ``reactions`` for reactions and
deleted messages), the ``events`` it reports, the slash commands, the command-line options and the texts
in English and Russian. The GUI (``common.gui``) and
the CLI (``chat_client_cli.py``) are views over it. It imports ``common.protocol`` and nothing of the server
or of Tk."""
