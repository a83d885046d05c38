"""POLL and VOTE: a teacher's quick poll in a channel (classchat's own; capability ``classchat.org/classroom``).

    POLL <#channel> OPEN [NAMED|ANON] [<seconds>] :<question>|<option>|<option>[|…]    channel operators
    POLL <#channel> CLOSE                                                             channel operators
    POLL <#channel> [SHOW]                                                            members: the open poll again
    VOTE <#channel> <number> [<poll number>]                                          members

A poll has 2 to 6 options (``common.protocol.classroom`` has every limit) and is anonymous unless NAMED;
a time limit (5 to 3600 s) closes it from the housekeeping thread (``close_due_polls``). One ballot per
person (their account when logged in, else their nick); voting again replaces it, at most
``MAX_VOTE_CHANGES`` times. Numbers are read with ``parse_count`` only.

What members with the capability get, from the server:

    POLL #c OPENED <poll> named|anonymous <closes at, ms; 0: no limit> <opener> :<question>|<option>|…
    POLL #c BALLOT <poll> <option>                the caller's own vote, as counted
    POLL #c COUNTS <poll> :<count> <count> …      to operators of an anonymous poll, at every change, and
                                                  of any poll on joining or asking (SHOW)
    POLL #c VOTER <poll> <nick> <option> :<count> <count> …
                                                  to operators of a named poll, at every change: who voted
                                                  what (0: withdrawn) and the counts after it
    POLL #c VOTERS <poll> [*] :<nick>=<option> …  to operators of a named poll who join or ask (SHOW)
    POLL #c CLOSED <poll> :<count> <count> …      to every member

Members without it get NOTICEs in words. When the poll closes, its result goes to every member as a
NOTICE from the server that is stored in the history before it is delivered (``Outbox.relay_stored``),
so that latecomers and plain clients read it too.

Runs under the state lock; changes only ``Channel.classroom.poll`` (and the channel's ``persistent`` flag
once a result is stored).
"""
from __future__ import annotations

from common.protocol.classroom import (CLASSROOM_CAP, MAX_POLL_ID, MAX_TIME_LIMIT, MIN_TIME_LIMIT, TOO_LONG,
                                       format_entries, read_poll_text, read_time_limit)
from common.protocol.message import Message
from common.protocol.params import parse_count
from common.server.classroom import Poll
from common.server.commands.base import Request, ServerServices, err_need_more_params, member_channel, packed
from common.server.commands.hands import (LINE_BUDGET, classroom_fail, duration_text, packed_lines, server_line,
                                          server_notice, split_by_cap)
from common.server.history import StoredMessage
from common.server.outbox import Outbox
from common.server.state import Channel, Client

POLL_SYNTAX = "POLL <#channel> OPEN [NAMED|ANON] [<seconds>] :<question>|<option>|<option>…"
PROBLEMS = {
    "BAD_QUESTION": "A question is 1 to 150 characters, without '|'",
    "BAD_OPTIONS": "A poll has 2 to 6 options of 1 to 50 characters each, separated by '|'",
    TOO_LONG: "The question and options are too long together; shorten them",
}


def handle_poll(req: Request, msg: Message) -> None:
    verb = msg.param(1, "SHOW").upper()
    if verb not in ("SHOW", "OPEN", "CLOSE"):
        classroom_fail(req, "POLL", "UNKNOWN_SUBCOMMAND", msg.params[0], verb,
                       "POLL <#channel> OPEN …|CLOSE|SHOW")
        return
    channel = member_channel(req, msg.params[0], operator=verb != "SHOW")
    if channel is None:
        return
    poll = channel.classroom.poll
    if verb == "OPEN":
        open_poll(req, channel, msg.params[2:])
    elif poll is None:
        classroom_fail(req, "POLL", "NO_POLL", channel.name, f"There is no open poll in {channel.name}")
    elif verb == "CLOSE":
        close_poll(req.server, req.out, channel, req.client)
    else:
        send_poll_state(req.server, req.out, channel, req.client)


def open_poll(req: Request, channel: Channel, args: list[str]) -> None:
    """OPEN's words ([NAMED|ANON] [<seconds>], in any order) and then the poll, each checked first."""
    if not args:
        err_need_more_params(req, "POLL")
        return
    *words, text = args
    named, seconds = False, 0
    for word in words:
        if word.upper() in ("NAMED", "ANON", "ANONYMOUS"):
            named = word.upper() == "NAMED"
        elif word.isascii() and word.isdigit():  # only says it is meant as a time limit; read_time_limit reads it
            limit = read_time_limit(word)
            if limit is None:
                classroom_fail(req, "POLL", "BAD_TIME_LIMIT", channel.name, word,
                               f"A time limit is {MIN_TIME_LIMIT} to {MAX_TIME_LIMIT} seconds, or 0 for none")
                return
            seconds = limit
        else:
            classroom_fail(req, "POLL", "INVALID_PARAMS", channel.name, word,
                           f"Unexpected word; the syntax is {POLL_SYNTAX} (mind the ':' before the question)")
            return
    if channel.classroom.poll is not None:
        classroom_fail(req, "POLL", "ALREADY_OPEN", channel.name,
                       f"A poll is open in {channel.name} already: close it first (POLL {channel.name} CLOSE)")
        return
    poll_text = read_poll_text(text)
    if isinstance(poll_text, str):
        classroom_fail(req, "POLL", poll_text, channel.name, PROBLEMS[poll_text])
        return
    now = req.server.now_ms()
    classroom = channel.classroom
    poll = Poll(classroom.polls_opened + 1, poll_text, named, req.client, req.client.nick,
                now + seconds * 1000 if seconds else None)
    if len(opened_line(req.server, channel, poll).format().encode()) > LINE_BUDGET:
        classroom_fail(req, "POLL", TOO_LONG, channel.name, PROBLEMS[TOO_LONG])
        return
    classroom.polls_opened += 1
    classroom.poll = poll
    with_cap, plain = split_by_cap(channel.members)
    req.out.relay(with_cap, opened_line(req.server, channel, poll))
    for line in poll_notices(req.server, channel, poll):
        req.out.relay(plain, line)
    req.server.audit(req.client, "poll", channel.name, poll_text.wire())


def opened_line(server: ServerServices, channel: Channel, poll: Poll) -> Message:
    return server_line(server, "POLL", channel.name, "OPENED", str(poll.number),
                       "named" if poll.named else "anonymous", str(poll.closes_at or 0), poll.opener_nick,
                       poll.text.wire())


def options_text(poll: Poll, counts: list[int] | None = None) -> list[str]:
    """"1) 2^10", …, or with ``counts`` "1) 2^10: 12 (40%)", …"""
    if counts is None:
        return [f"{number}) {option}" for number, option in enumerate(poll.text.options, 1)]
    total = sum(counts)
    return [f"{number}) {option}: {count} ({round(100 * count / total) if total else 0}%)"
            for number, (option, count) in enumerate(zip(poll.text.options, counts), 1)]


def notices(server: ServerServices, target: str, head: str, items: list[str]) -> list[Message]:
    """``head`` and then ``items``, in as few NOTICE lines as fit: one when it all fits."""
    room = LINE_BUDGET - len(f":{server.config.name} NOTICE {target} :".encode())
    whole = f"{head} {' · '.join(items)}"
    if len(whole.encode()) <= room:
        return [server_notice(server, target, whole)]
    return [server_notice(server, target, text) for text in (head, *packed(items, room, " · "))]


def poll_notices(server: ServerServices, channel: Channel, poll: Poll) -> list[Message]:
    """The open poll in words, for members without the capability."""
    terms = ["names shown to the teacher" if poll.named else "anonymous"]
    if poll.closes_at is not None:
        terms.append(f"closes in {duration_text(poll.closes_at - server.now_ms())}")
    head = (f"Poll by {poll.opener_nick} ({', '.join(terms)}): {poll.text.question} — answer with "
            f"/quote VOTE {channel.name} <number>:")
    return notices(server, channel.name, head, options_text(poll))


def send_poll_state(server: ServerServices, out: Outbox, channel: Channel, client: Client) -> None:
    """The open poll to one member (on JOIN, or POLL SHOW): the poll, their own vote, and for an operator
    the counts (and in a named poll who voted what)."""
    poll = channel.classroom.poll
    ballot = poll.ballot_of(client)
    operator = channel.is_operator(client)
    if CLASSROOM_CAP not in client.caps:
        lines = poll_notices(server, channel, poll)
        if ballot is not None:
            lines.append(server_notice(server, channel.name, f"Your vote: {options_text(poll)[ballot.option - 1]}"))
        if operator:
            lines.extend(counts_notices(server, channel, poll))
        for line in lines:
            out.send(client, line)
        return
    out.send(client, opened_line(server, channel, poll))
    if ballot is not None:
        out.send(client, server_line(server, "POLL", channel.name, "BALLOT", str(poll.number), str(ballot.option)))
    if operator:
        out.send(client, counts_line(server, channel, poll))
        if poll.named:
            voters = format_entries([(ballot.nick, ballot.option) for ballot in poll.ballots.values()])
            for line in packed_lines(server, "POLL", [channel.name, "VOTERS", str(poll.number)], voters):
                out.send(client, line)


def counts_line(server: ServerServices, channel: Channel, poll: Poll, command: str = "COUNTS") -> Message:
    return server_line(server, "POLL", channel.name, command, str(poll.number), " ".join(map(str, poll.tally)))


def voter_line(server: ServerServices, channel: Channel, poll: Poll, nick: str, option: int) -> Message:
    """``POLL #c VOTER <poll> <nick> <option> :<counts>``: a named poll's new ballot (0: withdrawn), and the
    counts it leaves."""
    return server_line(server, "POLL", channel.name, "VOTER", str(poll.number), nick, str(option),
                       " ".join(map(str, poll.tally)))


def counts_notices(server: ServerServices, channel: Channel, poll: Poll, voter: str = "") -> list[Message]:
    head = f"Votes in {channel.name} ({poll.total}){voter}:"
    return notices(server, channel.name, head, options_text(poll, poll.tally))


# ------------------------------------------------------------------ VOTE

def handle_vote(req: Request, msg: Message) -> None:
    channel = member_channel(req, msg.params[0])
    if channel is None:
        return
    poll = channel.classroom.poll
    asked_for = parse_count(msg.params[2], 1, MAX_POLL_ID) if len(msg.params) > 2 else None
    if poll is None or poll.is_due(req.server.now_ms()) or (len(msg.params) > 2 and asked_for != poll.number):
        classroom_fail(req, "VOTE", "NO_POLL", channel.name,
                       f"There is no open poll in {channel.name} to vote in (it may have closed)")
        return
    option = parse_count(msg.params[1], 1, len(poll.text.options))
    if option is None:
        classroom_fail(req, "VOTE", "BAD_OPTION", channel.name, msg.params[1],
                       f"Vote with a number from 1 to {len(poll.text.options)}")
        return
    result, replaced = poll.vote(req.client, option)
    if result == "too_many":
        classroom_fail(req, "VOTE", "TOO_MANY_CHANGES", channel.name, "You have changed your vote too often")
        return
    client = req.client
    if CLASSROOM_CAP in client.caps:
        req.out.send(client, server_line(req.server, "POLL", channel.name, "BALLOT", str(poll.number), str(option)))
    else:
        req.out.send(client, server_notice(req.server, channel.name,
                                           f"Your vote: {options_text(poll)[option - 1]}"))
    if result != "same":
        tell_operators(req, channel, poll, option, replaced)


def tell_operators(req: Request, channel: Channel, poll: Poll, option: int, replaced: str | None) -> None:
    """The new counts to the channel's operators; in a named poll also who voted what."""
    with_cap, plain = split_by_cap(channel.operators())
    server, nick = req.server, req.client.nick
    if poll.named:  # who voted what, with the counts: one line a vote (300 votes, 300 lines)
        if replaced is not None:
            req.out.relay(with_cap, voter_line(server, channel, poll, replaced, 0))
        req.out.relay(with_cap, voter_line(server, channel, poll, nick, option))
    else:
        req.out.relay(with_cap, counts_line(server, channel, poll))
    for line in counts_notices(server, channel, poll, f" — {nick} voted {option}" if poll.named else ""):
        req.out.relay(plain, line)


# ------------------------------------------------------------------ closing

def close_poll(server: ServerServices, out: Outbox, channel: Channel, closer: Client | None) -> None:
    """Close the channel's poll: the final counts to members with the capability, then the result in words
    to every member, stored in the history before anyone receives it. ``closer`` is None when the time
    limit closed it; should storing fail, whoever closed it (else whoever opened it) is told."""
    classroom = channel.classroom
    poll = classroom.poll
    classroom.poll = None
    with_cap, _plain = split_by_cap(channel.members)
    out.relay(with_cap, counts_line(server, channel, poll, "CLOSED"))
    how = f"closed by {closer.nick}" if closer is not None else "closed, time is up"
    plural = "" if poll.total == 1 else "s"
    head = f"Poll {how}: {poll.text.question} ({poll.total} vote{plural}) —"
    members = list(channel.members)
    for line in notices(server, channel.name, head, options_text(poll, poll.tally)):
        tags, time_ms = server.message_tags({})
        line.tags = tags
        if not server.history_enabled:
            out.relay(members, line)
            continue
        stored = StoredMessage(tags["msgid"], time_ms, channel.name, server.config.name, "NOTICE", line.params[1])
        out.relay_stored(closer or poll.opened_by, members, line, stored)
        channel.persistent = True
    if closer is not None:
        server.audit(closer, "close poll", channel.name, poll.text.question)


def close_due_polls(server: ServerServices, out: Outbox, now_ms: int) -> None:
    """Close every poll whose time is up (the housekeeping thread, within its transaction)."""
    for channel in list(server.state.channels.values()):
        poll = channel.classroom.poll
        if poll is not None and poll.is_due(now_ms):
            close_poll(server, out, channel, None)
