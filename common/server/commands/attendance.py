"""ATTENDANCE <#channel> [since YYYY-MM-DD] (classchat): who was present in a class channel, per person per day,
for the teacher (or an operator of that channel).

Under the state lock the parameters and the caller's right are checked, and the report is queued for the
attendance thread (``AttendanceRecorder.ask``), which reads the table behind every presence change decided
before it, and answers with the rows (``common.protocol.attendance``): in a ``classchat.org/attendance`` batch
to a client with ``classchat.org/classroom`` and ``batch``, as NOTICE lines to any other. At most
``MAX_REPLY_ROWS`` rows, the latest; the answer says how many older ones it left out. The caller's reader
thread waits for the answer (``Request.after_lock``) before it reads the caller's next line, so the rows
come before the replies to anything sent after ATTENDANCE; other clients are not held. A labeled ATTENDANCE
gets its ACK first, and the rows after it.
"""
from __future__ import annotations

import itertools
import threading
from datetime import date

from common.protocol import numerics as rpl
from common.protocol.attendance import ATTENDANCE_BATCH, CLASSROOM_CAP, TEXT_HEADER
from common.protocol.casemap import is_valid_channel
from common.protocol.message import Message, middle_word
from common.protocol.params import parse_date
from common.server.attendance import AttendanceTable, Report, build_report
from common.server.commands.base import Request, err_no_privileges, server_message
from common.server.outbox import Outbox
from common.server.state import Client

MAX_REPLY_ROWS = 400
SHOWN_PARAM_LENGTH = 32  # of a refused parameter echoed back
ANSWER_WAIT_SECONDS = 5.0  # the longest the caller's reader thread waits for its report (the rest are not held)
_batch_ids = itertools.count(1)


def fail_attendance(req: Request, code: str, context: str, description: str) -> None:
    req.out.send(req.client, server_message(req, "FAIL", "ATTENDANCE", code, middle_word(context[:SHOWN_PARAM_LENGTH]),
                                            description))


def handle_attendance(req: Request, msg: Message) -> None:
    client = req.client
    recorder = req.server.attendance
    name = msg.params[0]
    if recorder is None:
        fail_attendance(req, "NOT_KEPT", name, "This server keeps no attendance (it keeps no history)")
        return
    if not is_valid_channel(name, req.server.config.channel_length):
        req.reply(rpl.ERR_NOSUCHCHANNEL, name[:SHOWN_PARAM_LENGTH], "Invalid channel name")
        return
    since: date | None = None
    if len(msg.params) > 1:
        since = parse_date(msg.params[1])
        if since is None:
            fail_attendance(req, "INVALID_PARAMS", msg.params[1], "Give the day to start from as YYYY-MM-DD")
            return
    channel = req.state.find_channel(name)
    if channel is None and not client.is_oper:
        err_no_privileges(req)  # a channel gone (renamed, forgotten) is the teacher's to ask about
        return
    if channel is not None and not channel.is_operator(client):
        req.reply(rpl.ERR_CHANOPRIVSNEEDED, channel.name,
                  "Only the teacher (or a channel operator) sees the attendance")
        req.server.log_event(f"refused: ATTENDANCE {channel.name}, not a channel operator", client)
        return
    exists = channel is not None
    shown, server_name = (channel.name if exists else name), req.server.config.name
    answered = threading.Event()
    if not recorder.ask(lambda table, now_ms: answer(table, now_ms, server_name, client, shown, since, exists),
                        answered):
        fail_attendance(req, "TRY_AGAIN", shown, "Too many attendance reports are being made; try again")
        return
    req.after_lock = lambda: answered.wait(ANSWER_WAIT_SECONDS)  # this client's next line waits for the rows


def answer(table: AttendanceTable, now_ms: int, server_name: str, client: Client, channel: str,
           since: date | None, exists: bool) -> Outbox:
    """The report, made on the attendance thread: it reads the table, and of the caller only ``caps``. A
    channel that exists has a report, if an empty one; one that does not needs rows to have one."""
    report = build_report(table, channel, since, now_ms, MAX_REPLY_ROWS)
    out = Outbox(server_name)
    if not report.known and not exists:
        out.numeric(client, rpl.ERR_NOSUCHCHANNEL, channel, "No attendance is recorded for that channel "
                    "(it is kept in class channels, +C)")
    elif CLASSROOM_CAP in client.caps and "batch" in client.caps:
        send_batch(out, client, channel, since, report)
    else:
        send_notices(out, client, channel, since, report)
    return out


def send_batch(out: Outbox, client: Client, channel: str, since: date | None, report: Report) -> None:
    reference = f"a{next(_batch_ids)}"
    out.send(client, Message("BATCH", [f"+{reference}", ATTENDANCE_BATCH, channel,
                                       since.isoformat() if since else "*", str(report.left_out)],
                             source=out.server_name))
    for row in report.rows:
        out.send(client, Message("ATTENDANCE", row.to_params(channel), source=out.server_name,
                                 tags={"batch": reference}))
    out.send(client, Message("BATCH", [f"-{reference}"], source=out.server_name))


def send_notices(out: Outbox, client: Client, channel: str, since: date | None, report: Report) -> None:
    """The rows as readable lines, for irssi, WeeChat and any client without the capability."""
    def notice(text: str) -> None:
        out.send(client, Message("NOTICE", [client.nick, text], source=out.server_name))

    since_text = f" since {since.isoformat()}" if since else ""
    notice(f"Attendance in {channel}{since_text}: {len(report.rows)} row(s), a person per day")
    if report.rows:
        notice(TEXT_HEADER)
    for row in report.rows:
        notice(row.text_line())
    if report.left_out:
        notice(f"{report.left_out} earlier row(s) left out: ask from a later day (ATTENDANCE {channel} YYYY-MM-DD)")
    notice(f"End of attendance in {channel}")
