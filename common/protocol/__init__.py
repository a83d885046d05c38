"""What both ends of a classchat conversation share, and nothing else: IRC messages (parse, format, tags),
framing bytes into lines, nick and channel case mapping and masks, numerics, the TLS transport, and the
one-line contracts of the command line and of a started server process.

It imports nothing else of ``common``: the server (``common.server``) and the clients (``common.client``,
``common.gui``) import it. Most of it is sans-I/O: bytes and lines in, values out."""
