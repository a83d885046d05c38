"""What a member learns of the classroom when joining: the queue of raised hands and the open poll
(``hands.py``, ``polls.py``), so that someone who joins late or reconnects sees them as they are.

Runs under the state lock, from JOIN.
"""
from __future__ import annotations

from common.protocol.classroom import CLASSROOM_CAP
from common.server.commands.base import Request
from common.server.commands.hands import hands_lines, queue_notices
from common.server.commands.polls import send_poll_state
from common.server.state import Channel


def send_classroom_on_join(req: Request, channel: Channel) -> None:
    """With the capability: the queue (even an empty one) and the open poll; without it, NOTICEs that say
    how many hands are up (if any) and what the open poll asks."""
    client, classroom = req.client, channel.classroom
    if CLASSROOM_CAP in client.caps:
        for line in hands_lines(req.server, channel):
            req.out.send(client, line)
    elif classroom.hands:
        for line in queue_notices(req.server, channel, channel.name):
            req.out.send(client, line)
    if classroom.poll is not None:
        send_poll_state(req.server, req.out, channel, client)
