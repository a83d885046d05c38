"""classchat's library: the IRC protocol and everything the server and the two clients share.

Nothing here imports tkinter: only ``chat_client_gui.py`` and its own modules do.
"""
