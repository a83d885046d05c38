"""The teacher's commands: OPER, KILL, ENDLESSON, STARTLESSON and ``$server`` announcements (RFC 2812 §3.1.4, §3.3.1,
§3.7.1), and ``disconnect_user``, which ends another user's connection.

Runs under the state lock, except ``check_oper_login``: OPER's password check runs before the lock is
taken and reads only the server's ``config``. A disconnect is queued (``req.out.after_delivery``) and
happens once this command's replies are out.
"""
from __future__ import annotations

from common.protocol import numerics as rpl
from common.protocol.casemap import casefold, mask_matches
from common.protocol.message import Message
from common.server.commands.base import (Request, ServerServices, err_no_privileges, err_no_such_nick,
                                         relay_to_channel, remember_channel, server_message, user_message)
from common.server.passwords import verify_password
from common.server.state import Channel, Client


def announcement_recipients(req: Request, mask: str) -> tuple[str, list[Client]] | None:
    """``$mask`` (RFC 2812 §3.3.1): everyone on a server whose name matches; operators only. A student
    gets 481 even for a NOTICE: being refused is worth knowing."""
    if not req.client.is_oper:
        err_no_privileges(req)
        return None
    if not mask_matches(mask[1:], req.server.config.name):
        err_no_such_nick(req, mask)
        return None
    return mask, [client for client in req.state.registered if client is not req.client]


def disconnect_user(req: Request, target: Client, reason: str) -> None:
    """End another user's connection with ``reason`` once this command's replies are out; its reader
    thread then tells its channels (QUIT) as for any disconnect."""
    req.out.after_delivery.append(lambda: target.conn.close(reason, tell_client=True))


def handle_kill(req: Request, msg: Message) -> None:
    """KILL (RFC 2812 §3.7.1): an operator disconnects one user."""
    client = req.client
    if not client.is_oper:
        err_no_privileges(req)
        return
    target = req.state.find_client(msg.params[0])
    if target is None or not target.registered:
        err_no_such_nick(req, msg.params[0])
        return
    reason = msg.param(1) or "No reason given"
    disconnect_user(req, target, f"Killed ({client.nick} ({reason}))")
    req.server.audit(client, "kill", target.nick, reason)


def handle_endlesson(req: Request, msg: Message) -> None:
    """ENDLESSON [:message] (classchat): the teacher ends the lesson.

    With class channels (+C), every student leaves them (a KICK with the reason) and they close (+i) until
    STARTLESSON opens them: a student who tries to come back is told that the lesson has ended. Without
    class channels, everyone but the operators is disconnected, with the reason; our clients do not
    reconnect after that. Either way the server keeps running for the next lesson."""
    client = req.client
    if not client.is_oper:
        err_no_privileges(req)
        return
    reason = f"The lesson has ended: {msg.param(0)}" if msg.param(0) else "The lesson has ended"
    classes = [channel for channel in req.state.channels.values() if channel.is_class]
    if classes:
        left = sum(close_class(req, channel, reason) for channel in classes)
        names = ", ".join(channel.name for channel in classes)
        summary = f"Lesson ended in {names}: {left} student(s) left"
    else:
        students = [other for other in req.state.clients if not other.is_oper]
        for student in students:
            disconnect_user(req, student, reason)
        summary = f"Lesson ended: {len(students)} user(s) disconnected"
    req.out.send(client, server_message(req, "NOTICE", client.nick, summary))
    req.server.audit(client, "endlesson", summary, msg.param(0))


def close_class(req: Request, channel: Channel, reason: str) -> int:
    """Close a class channel (+i) and walk its students out; returns how many left. They are remembered,
    so that STARTLESSON can invite them back."""
    teacher = req.client
    if "i" not in channel.modes:
        channel.modes.add("i")
        relay_to_channel(req, channel, user_message(teacher, "MODE", channel.name, "+i"))
    students = [member for member in channel.members if not member.is_oper]
    for student in students:
        relay_to_channel(req, channel, user_message(teacher, "KICK", channel.name, student.nick, reason))
        req.state.part(student, channel)
        channel.lesson_roster.add(casefold(student.nick))
    remember_channel(req, channel)
    return len(students)


def handle_startlesson(req: Request, msg: Message) -> None:
    """STARTLESSON [:message] (classchat): open the class channels again (-i) and invite back the students
    the last ENDLESSON walked out who are still connected."""
    client = req.client
    if not client.is_oper:
        err_no_privileges(req)
        return
    classes = [channel for channel in req.state.channels.values() if channel.is_class]
    for channel in classes:
        if "i" in channel.modes:
            channel.modes.discard("i")
            relay_to_channel(req, channel, user_message(client, "MODE", channel.name, "-i"))
            remember_channel(req, channel)
        for nick in sorted(channel.lesson_roster):
            student = req.state.find_client(nick)
            if student is not None and student.registered and student not in channel.members:
                req.out.send(student, user_message(client, "INVITE", student.nick, channel.name))
        channel.lesson_roster.clear()
        if msg.param(0):
            relay_to_channel(req, channel, user_message(client, "NOTICE", channel.name, msg.param(0)))
    names = ", ".join(channel.name for channel in classes) or "no class channels (make one with MODE #name +C)"
    req.out.send(client, server_message(req, "NOTICE", client.nick, f"Lesson started in {names}"))
    req.server.audit(client, "startlesson", names, msg.param(0))


# Wrong OPER passwords one connection may try; the next one closes it. Guessing then costs a reconnect
# (and the per-address connection limits) on top of a slow scrypt for every try.
MAX_FAILED_LOGINS = 3


def check_oper_login(server: ServerServices, client: Client, msg: Message) -> bool:
    """OPER's password check, run before the state lock is taken: a hashed password costs most of a second
    on purpose, and nobody else's messages should wait for it.

    An unknown name is checked against another operator's stored password (and then refused whatever the
    result), so that it costs the same time as a known one: the reply time does not tell which names exist."""
    stored = server.config.opers.get(msg.params[0])
    decoy = next(iter(server.config.opers.values()), None)
    if stored is None and decoy is None:
        return False
    matches = verify_password(stored if stored is not None else decoy, msg.params[1])
    return matches and stored is not None


def handle_oper(req: Request, msg: Message) -> None:
    client = req.client
    if not req.server.config.opers:
        req.reply(rpl.ERR_NOOPERHOST, "No O-lines for your host")
        return
    if client.failed_logins >= MAX_FAILED_LOGINS:
        req.server.disconnect_later(client, "Too many failed operator logins")
        return
    if not req.prepared:
        client.failed_logins += 1
        req.reply(rpl.ERR_PASSWDMISMATCH, "Password incorrect")
        req.server.log_event(f"refused: OPER as {msg.params[0]} with a wrong password "
                             f"({client.failed_logins} of {MAX_FAILED_LOGINS})", client)
        return
    client.failed_logins = 0
    if not client.is_oper:
        req.state.set_user_mode(client, "o", True)
        req.out.send(client, user_message(client, "MODE", client.nick, "+o"))
    req.reply(rpl.RPL_YOUREOPER, "You are now an IRC operator")
    req.server.audit(client, "oper", msg.params[0])
