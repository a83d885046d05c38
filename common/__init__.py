"""classchat's library, in four packages whose imports run one way:

    protocol  <- server              (the IRC server)
    protocol  <- client  <- gui      (what both clients share; the Tk views)

``protocol`` imports nothing else of ours; only ``gui`` (and ``chat_client_gui.py``) import tkinter.
docs/architecture.md shows the threads and the path of one message through them.
"""
