"""Deleting and reacting to a message of several lines (IRCv3 draft/multiline): it is one message with one
msgid, however it reached each client (a batch, or plain lines of which only the first carries the msgid).
Reactions to it count under the whole block, the history gives it back with them, and one REDACT removes
the whole block, its reactions with it, for everyone: on the wire (an in-process server with its history in
a real SQLite file), in the client's book of messages, and in real Tk windows under Xvfb, where the
reaction line sits under the block's last line and the placeholder takes the place of every line of it."""
from __future__ import annotations

import re
import sqlite3

from common.client.reactions import ReactionBook
from common.gui.model import DisplayLine
from common.gui.theme import THEMES, NickColours
from common.gui.widgets import MessageView
from common.protocol.message import parse
from helpers import IRCTestClient, assert_still_served
from test_gui import open_window, pump_until, type_and_send, view_text  # noqa: F401  (open_window: a fixture)
from test_gui_code_blocks import SNIPPET, paste
from test_gui_reactions import REACT_LABELS, choose, line_after, right_click
from test_multiline import batch_of, send_batch
from test_redaction import FULL, clock, db, running, student  # noqa: F401  (clock, db, running: fixtures)

MULTILINE = (*FULL, "draft/multiline")
LINES = ["def square(x):", "    return x * x", "", "print(square(3))"]


def chathistory(client: IRCTestClient, target: str) -> list:
    """CHATHISTORY LATEST: the lines of its batch, nested multiline batches included."""
    client.send(f"CHATHISTORY LATEST {target} * 50")
    reference = client.expect(r" BATCH \+\S+ chathistory ").params[0][1:]
    return [parse(line) for line in client.lines_until(rf" BATCH -{reference}$")[:-1]]


def test_a_block_is_reacted_to_and_deleted_as_one_message(running, db):
    masha = student(running, "masha", caps=MULTILINE)
    petya = student(running, "petya", caps=MULTILINE)
    vova = student(running, "vova")  # tags and redaction, but no multiline: the block comes as lines
    plain = student(running, "plain", caps=())
    send_batch(masha, "#math", LINES)
    msgid = batch_of(masha)[0].tags["msgid"]
    assert batch_of(petya)[0].tags["msgid"] == msgid
    first, *rest = [vova.expect(r" PRIVMSG #math ") for _ in range(3)]  # the blank line is left out
    assert first.tags["msgid"] == msgid and not [line for line in rest if "msgid" in line.tags]
    petya.send(f"@+draft/reply={msgid};+draft/react=👍 TAGMSG #math")
    vova.send(f"@+draft/reply={msgid};+draft/react=❓ TAGMSG #math")  # from the msgid of the first line
    reactions = [masha.expect(r" TAGMSG #math") for _ in range(2)]
    assert {line.tags["+draft/reply"] for line in reactions} == {msgid}

    late = student(running, "late", caps=MULTILINE)
    late.sync()  # past the replay on joining (a chathistory batch too)
    lines = chathistory(late, "#math")
    opening = next(line for line in lines if line.command == "BATCH" and line.params[0].startswith("+"))
    assert opening.tags["msgid"] == msgid and opening.params[1] == "draft/multiline"
    assert [line.params[-1] for line in lines if line.command == "PRIVMSG"] == LINES
    assert sorted(line.tags["+draft/react"] for line in lines if line.command == "TAGMSG") == ["❓", "👍"]

    masha.send(f"REDACT #math {msgid}")
    for client in (masha, petya, vova, late):
        assert client.expect(r" REDACT ").params == ["#math", msgid]
    notices = [line for line in plain.sync() if " NOTICE #math " in line]
    assert len(notices) == 1 and re.search(r"masha deleted a message they sent \d+ seconds? ago$", notices[0])
    assert not any(text in notices[0] for text in LINES[:2]), "never the deleted text"
    assert chathistory(late, "#math") == []
    with sqlite3.connect(db) as check:
        assert check.execute("SELECT coalesce(sum(count), 0) FROM message_blocks").fetchone()[0] == 0, "the block and both reactions"
    vova.send(f"REDACT #math {msgid}")  # gone: nothing left to delete
    assert vova.expect(r" FAIL REDACT ").params[1] == "UNKNOWN_MSGID"
    assert_still_served(running, petya)


def test_the_book_quotes_a_block_on_one_line():
    book = ReactionBook()
    book.note_message("#math", "m1", "masha", "def square(x):\n    return x * x", own=False)
    assert book.message("m1").excerpt == "def square(x): return x * x"


def test_the_view_maps_every_line_of_a_block_to_its_message(tk_root):
    """The marks of a block span all its lines and the reaction line goes under the last; the next
    message's marks stay right; a block's replacement takes its Copy button with it."""
    view = MessageView(tk_root, "TkDefaultFont", "TkDefaultFont", NickColours(12))
    view.apply_palette(THEMES["light"])
    counts = {"block": ["👍 2 understood", ("reactions",), "\n", ("reactions",)]}
    view.marks.reaction_line = lambda msgid: counts.get(msgid, [])
    lines = [DisplayLine("message", "before", "petya", msgid="before"),
             DisplayLine("message", SNIPPET, "masha", msgid="block"),
             DisplayLine("message", "after", "petya", msgid="after")]
    view.show(lines)
    text = view.text
    assert int(text.index("end-1c").split(".")[0]) - 1 == view.text_lines(lines), "the reaction line counted"
    for words in ("masha", "def greet", "print(f'", "greet('Маша')", "2 understood"):
        assert view.marks.msgid_at(text.search(words, "1.0")) == "block", words
    assert view.marks.msgid_at(text.search("after", "1.0")) == "after"
    assert view.marks.msgid_at(text.search("before", "1.0")) == "before"
    last = text.search("greet('Маша')", "1.0")
    assert text.get(f"{last} +1 line linestart", f"{last} +1 line lineend") == "👍 2 understood"
    assert len(view.code_blocks.buttons) == 1
    assert view.replace_message("block", DisplayLine("system", "message deleted by masha"))
    assert view.code_blocks.buttons == [] and "greet" not in text.get("1.0", "end")
    shown = [line for line in text.get("1.0", "end").splitlines() if line]
    assert [line.split(": ")[-1].split("— ")[-1] for line in shown] == ["before", "message deleted by masha", "after"]
    assert view.marks.msgid_at(text.search("after", "1.0")) == "after"
    view.destroy()


def test_a_pasted_block_gets_reactions_under_it_and_is_deleted_whole(server_process, open_window, tk_root):
    process = server_process()
    teacher = open_window(process.address, "teacher")  # the first in the channel: its operator
    masha = open_window(process.address, "masha")
    paste(masha, SNIPPET)
    type_and_send(masha, "after the block")
    pump_until(tk_root, lambda: "after the block" in view_text(teacher), what="the block and the line after it")
    pump_until(tk_root, lambda: "after the block" in view_text(masha), what="masha's own echo")
    block = [line for line in teacher.book.find("#general").lines if line.nick == "masha"][0]
    assert block.text == SNIPPET and block.msgid
    assert right_click(teacher, "print(f'") == [*REACT_LABELS, "Delete"], "a middle line of the block is its"
    choose(teacher, "👍  understood")
    right_click(teacher, "after the block")
    choose(teacher, "❓  lost")
    pump_until(tk_root, lambda: line_after(masha, "greet('Маша')").strip() == "👍 1 understood",
               what="the count under the block's last line")
    pump_until(tk_root, lambda: line_after(masha, "after the block").strip() == "❓ 1 lost")
    assert masha.session.reactions.counts(block.msgid) == [("👍", 1)]
    assert right_click(masha, "def greet") == ["Delete"], "her own block"
    choose(masha, "Delete")
    for window in (teacher, masha):
        pump_until(tk_root, lambda: "message deleted by masha" in view_text(window), what="the placeholder")
        shown = view_text(window)
        assert "greet" not in shown and "1 understood" not in shown, "every line of the block, its reactions too"
        assert window.view.code_blocks.buttons == []
        assert line_after(window, "message deleted by masha").split()[-1] == "block", "then the next message"
        assert line_after(window, "after the block").strip() == "❓ 1 lost", "the next one keeps its counts"
