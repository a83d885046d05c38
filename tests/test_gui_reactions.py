"""Deleting messages and reactions in the Tk GUI: real windows under Xvfb against the real server process,
driven through the right-click menu of a message as a person would: the teacher deletes a student's
message and the student's window shows the placeholder in its place; reactions clicked in students'
windows show as counts under the message in the teacher's; what is not offered is not shown."""
from __future__ import annotations

from common.gui.window import ChatWindow
from helpers import IRCTestClient
from test_cli import ngircd  # noqa: F401  (a fixture: the real ngircd, which offers neither feature)
from test_gui import menu_labels, open_window, pump_until, type_and_send, view_text  # noqa: F401

REACT_LABELS = ["👍  understood", "✅  done", "❓  lost"]


def right_click(window: ChatWindow, text: str) -> list[str]:
    """Right-click the line that shows ``text``; the labels of the menu that opened (none: no menu)."""
    view = window.view
    window.top.update_idletasks()
    index = view.text.search(text, "1.0", stopindex="end")
    assert index, f"{text!r} is not in the view"
    view.text.see(index)
    window.top.update_idletasks()
    x, y, width, height = view.text.bbox(index)
    menu = window.message_actions.menu
    menu.delete(0, "end")
    view.text.event_generate("<Button-3>", x=x + width // 2, y=y + height // 2, rootx=100, rooty=100)
    labels = menu_labels(menu) if menu.index("end") is not None else []
    menu.unpost()
    return labels


def choose(window: ChatWindow, label: str) -> None:
    menu = window.message_actions.menu
    menu.invoke(next(i for i in range(menu.index("end") + 1) if menu.type(i) == "command"
                     and menu.entrycget(i, "label") == label))


def line_after(window: ChatWindow, text: str) -> str:
    """The line of the view just under the one that shows ``text`` ("" while no line shows it: the view
    redraws a message's lines when its reactions change, and a condition polled meanwhile must not raise)."""
    index = window.view.text.search(text, "1.0", stopindex="end")
    if not index:
        return ""
    return window.view.text.get(f"{index} +1 line linestart", f"{index} +1 line lineend")


def test_the_teacher_deletes_a_students_message_from_its_menu(server_process, open_window, tk_root):
    process = server_process()
    teacher = open_window(process.address, "teacher")  # the first in the channel: its operator
    masha = open_window(process.address, "masha")
    type_and_send(teacher, "Who knows the answer?")
    pump_until(tk_root, lambda: "Who knows the answer?" in view_text(masha))
    type_and_send(masha, "something rude")
    pump_until(tk_root, lambda: "something rude" in view_text(teacher), what="masha's message at the teacher")
    pump_until(tk_root, lambda: "something rude" in view_text(masha), what="the echo of masha's message")
    assert right_click(masha, "Who knows") == REACT_LABELS, "a student reacts to the teacher, deletes nothing of hers"
    assert right_click(masha, "something rude") == ["Delete"], "her own: she may delete it"
    assert right_click(teacher, "something rude") == [*REACT_LABELS, "Delete"]
    choose(teacher, "Delete")
    pump_until(tk_root, lambda: "message deleted by the teacher" in view_text(masha), what="the placeholder")
    pump_until(tk_root, lambda: "message deleted by the teacher" in view_text(teacher))
    for window in (masha, teacher):
        assert "something rude" not in view_text(window)
        lines = view_text(window).splitlines()
        assert lines.index(next(line for line in lines if "deleted by the teacher" in line)) == \
            lines.index(next(line for line in lines if "Who knows" in line)) + 1, "in its place, not at the end"
    masha._select("#general")  # the conversation drawn again keeps the placeholder
    assert "message deleted by the teacher" in view_text(masha) and "something rude" not in view_text(masha)
    assert right_click(masha, "message deleted") == [], "a placeholder has no menu"


def test_a_student_deletes_her_own_message(server_process, open_window, tk_root):
    process = server_process()
    teacher = open_window(process.address, "teacher")
    masha = open_window(process.address, "masha")
    type_and_send(masha, "2 + 2 = 5")
    pump_until(tk_root, lambda: "2 + 2 = 5" in view_text(teacher) and "2 + 2 = 5" in view_text(masha))
    right_click(masha, "2 + 2 = 5")
    choose(masha, "Delete")
    pump_until(tk_root, lambda: "message deleted by masha" in view_text(teacher), what="the placeholder")
    pump_until(tk_root, lambda: "message deleted by masha" in view_text(masha))


def test_reactions_clicked_in_students_windows_count_in_the_teachers(server_process, open_window, tk_root):
    process = server_process()
    teacher = open_window(process.address, "teacher")
    masha = open_window(process.address, "masha")
    petya = open_window(process.address, "petya")
    type_and_send(teacher, "Is that clear?")
    type_and_send(teacher, "Next: threads")
    for student in (masha, petya):
        pump_until(tk_root, lambda: "Next: threads" in view_text(student))
    right_click(masha, "Is that clear?")
    choose(masha, "👍  understood")
    right_click(petya, "Is that clear?")
    choose(petya, "👍  understood")
    right_click(petya, "Next: threads")
    choose(petya, "❓  lost")
    pump_until(tk_root, lambda: line_after(teacher, "Is that clear?").strip() == "👍 2 understood",
               what="the counts under the question")
    pump_until(tk_root, lambda: line_after(teacher, "Next: threads").strip() == "❓ 1 lost")
    assert right_click(masha, "Is that clear?")[0] == "👍  understood  (take back)"
    choose(masha, "👍  understood  (take back)")
    pump_until(tk_root, lambda: line_after(teacher, "Is that clear?").strip() == "👍 1 understood")
    assert right_click(teacher, "1 understood") == ["Delete"], "the counts belong to their message: his own"
    late = open_window(process.address, "late")  # joins later: the history brings the counts along
    pump_until(tk_root, lambda: line_after(late, "Next: threads").strip() == "❓ 1 lost", what="counts from history")
    assert line_after(late, "Is that clear?").strip() == "👍 1 understood"


def test_a_crowds_reactions_are_drawn_once_per_tick(server_process, open_window, tk_root):
    process = server_process("--flood-rate", "0")
    teacher = open_window(process.address, "teacher")
    type_and_send(teacher, "Ready?")
    crowd = [IRCTestClient(process.address).register(f"kid{index}", caps=("message-tags",)) for index in range(30)]
    for kid in crowd:
        kid.join("#general")
    pump_until(tk_root, lambda: "kid29" in teacher.member_list.nicks)
    question = next(line.msgid for line in teacher.book.find("#general").lines if line.text == "Ready?")
    redrawn = []
    original = teacher.view.marks.set_reactions
    teacher.view.marks.set_reactions = lambda msgid, segments: redrawn.append(msgid) or original(msgid, segments)
    for index, kid in enumerate(crowd):
        kid.send(f"@+draft/reply={question};+draft/react={'👍❓✅'[index % 3]} TAGMSG #general")
    pump_until(tk_root, lambda: line_after(teacher, "Ready?").strip() == "👍 10 understood   ✅ 10 done   ❓ 10 lost",
               what="thirty reactions counted")
    assert len(redrawn) < 30, f"the reaction line was drawn {len(redrawn)} times for 30 reactions"


def test_nothing_is_offered_where_the_server_offers_nothing(ngircd, open_window, tk_root):  # noqa: F811
    visitor = open_window(ngircd, "visitor")
    other = IRCTestClient(ngircd).register("other")
    other.join("#general")
    other.send("PRIVMSG #general :no ids here")
    pump_until(tk_root, lambda: "no ids here" in view_text(visitor))
    assert right_click(visitor, "no ids here") == []
    assert not visitor.session.reactions.offers_reactions() and not visitor.session.reactions.offers_deleting()


def test_without_history_there_is_no_delete(server_process, open_window, tk_root):
    process = server_process("--no-history")
    masha = open_window(process.address, "masha")
    teacher = open_window(process.address, "teacher")
    type_and_send(masha, "mine")
    pump_until(tk_root, lambda: "mine" in view_text(teacher) and "mine" in view_text(masha))
    assert right_click(masha, "mine") == [], "her own message: nothing to offer without deleting"
    assert right_click(teacher, "mine") == REACT_LABELS
