"""The server's IRC commands: one dispatch table and a ``handle_<command>`` function for each.

Everything in this package runs with the state lock held (``ChatServer.transaction``), except the
``outside_lock`` step of a command that has one (OPER's password check, see ``dispatch.prepare``). A
handler only changes state and fills the request's ``Outbox``; the sending happens after the lock is
released, and reads of the history are queued for the sequencer (``common.server.history_reads``). The
dispatcher answers the generic errors (421 unknown command, 451 not registered, 461 not enough
parameters) so handlers do not. Numerics follow RFC 2812 and modern.ircdocs.horse.

One module per family: ``registration``, ``channels``, ``messages``, ``queries``, ``whowas``, ``info``
(INFO, LINKS, HELP), ``monitor``, ``setname``, ``operators``, ``modes``, ``chathistory``, ``markread``,
``redact`` (REDACT, reactions' deletions) and ``multiline`` (BATCH, draft/multiline); ``labels`` labels the
replies of a command (labeled-response); ``hands``, ``polls`` and ``classroom`` are raised hands and quick polls;
``base`` holds what they share (``Request``, ``ServerServices``, the limits and the common replies) and
``dispatch`` the table. The server is reached only through ``ServerServices``, so nothing here imports
``common.server.server``.
"""
from common.server.commands.base import (AWAYLEN, BOT_MODE, CAPABILITIES, CHANMODES, CHATHISTORY_CAP,
                                         CHATHISTORY_LIMIT, KICKLEN, MAX_BANS, MAX_MODES, MAX_TARGETS,
                                         MONITOR_LIMIT, NAMELEN, READ_MARKER_CAP, REDACTION_CAP, USERLEN,
                                         Request, ServerServices)
from common.server.commands.dispatch import COMMANDS, CommandSpec, dispatch, prepare
from common.server.commands.labels import label_replies
from common.server.commands.monitor import announce_offline
from common.server.commands.multiline import abandon_unread_line, in_batch, take_flood_bill
from common.server.commands.polls import close_due_polls

__all__ = [
    "AWAYLEN", "BOT_MODE", "CAPABILITIES", "CHANMODES", "CHATHISTORY_CAP", "CHATHISTORY_LIMIT", "COMMANDS",
    "CommandSpec", "KICKLEN", "MAX_BANS", "MAX_MODES", "MAX_TARGETS", "MONITOR_LIMIT", "NAMELEN", "READ_MARKER_CAP", "Request",
    "REDACTION_CAP", "ServerServices", "USERLEN", "abandon_unread_line", "announce_offline", "close_due_polls",
    "dispatch", "in_batch", "label_replies", "prepare", "take_flood_bill",
]
