"""The teacher's attendance window, under Xvfb against a real in-process server: "Attendance…" is in the
Channel menu of a teacher in a class channel (and nowhere else), the table shows the rows, a bad day is
caught before asking, and "Save as CSV…" writes the file chosen."""
from __future__ import annotations

import csv
import tkinter as tk
from datetime import date

from common.gui import attendance_view
from common.protocol.attendance import CSV_HEADER
from helpers import IRCTestClient
from test_gui import invoke_by_label, menu_labels, pump_until
from test_gui_accounts import config_for, open_teacher, school, windows  # noqa: F401,F811  (fixtures)


def test_the_teacher_opens_attendance_and_saves_it_as_csv(school, windows, tk_root, tmp_path, monkeypatch):
    teacher = open_teacher(windows, school, tk_root)
    petya = IRCTestClient(school.address).register("petya")
    petya.join("#math")
    vova = IRCTestClient(school.address).register("vova")
    vova.join("#math")
    vova.send("PART #math")
    pump_until(tk_root, lambda: set(teacher.session.members("#math")) == {"teacher", "petya"},
               what="the class to arrive and vova to leave")
    teacher.fill_channel_menu()
    assert "Attendance…" in menu_labels(teacher.channel_menu)
    invoke_by_label(teacher.channel_menu, "Attendance…")
    view = teacher.attendance.open["#math"]
    pump_until(tk_root, lambda: len(view.tree.get_children()) == 3, what="the attendance rows")
    shown = {values[0]: values for values in (view.tree.item(item, "values") for item in view.tree.get_children())}
    today = date.today().isoformat()
    assert shown["vova"][1:4] == ("(guest)", today, shown["vova"][3]) and shown["vova"][4] != "still here"
    assert shown["teacher"][1] == "teacher" and shown["teacher"][4] == "still here"
    assert shown["petya"][4] == "still here"
    assert view.status.cget("text") == "3 row(s): a person per day."
    assert view.top.title() == "Attendance in #math"

    view.since_entry.insert(0, "2026-02-30")
    view.show_button.invoke()
    assert view.status.cget("text") == "Write the day as YYYY-MM-DD, e.g. 2026-11-24."
    view.since_entry.delete(0, "end")
    view.since_entry.insert(0, "2999-01-01")
    view.show_button.invoke()
    pump_until(tk_root, lambda: not view.tree.get_children(), what="the rows from a later day: none")
    assert str(view.save_button.cget("state")) == "disabled"
    view.since_entry.delete(0, "end")
    view.since_entry.insert(0, today)
    view.show_button.invoke()
    pump_until(tk_root, lambda: len(view.tree.get_children()) == 3, what="today's rows")

    target = tmp_path / "attendance.csv"
    asked: list[str] = []
    monkeypatch.setattr(attendance_view, "ask_save_path", lambda parent, initialfile: asked.append(initialfile)
                        or str(target))
    view.save_button.invoke()
    assert asked == [f"attendance-math-{today}.csv"]
    assert view.status.cget("text") == f"Saved to {target}"
    with open(target, encoding="utf-8-sig", newline="") as saved:
        table = list(csv.reader(saved))
    assert table[0] == list(CSV_HEADER)
    assert sorted(row[1] for row in table[1:]) == ["petya", "teacher", "vova"]
    view.close_button.invoke()
    assert "#math" not in teacher.attendance.open


def test_attendance_is_only_for_a_teacher_in_a_class_channel(school, windows, tk_root):
    teacher = open_teacher(windows, school, tk_root)
    student = windows(config_for(school.address, "masha", account="masha", account_password="masha-password"),
                      save=False)
    pump_until(tk_root, lambda: student.book.current == "#math", what="the student to join")
    student.fill_channel_menu()
    assert "Attendance…" not in menu_labels(student.channel_menu)
    teacher.session.join("#chatter")
    pump_until(tk_root, lambda: teacher.book.find("#chatter") is not None, what="the teacher in an ordinary channel")
    teacher.open_conversation("#chatter")
    assert teacher.book.current == "#chatter"
    teacher.fill_channel_menu()
    assert "Attendance…" not in menu_labels(teacher.channel_menu)
    assert "Make this a class channel" in menu_labels(teacher.channel_menu)


def test_a_refusal_shows_in_the_window(school, windows, tk_root):
    teacher = open_teacher(windows, school, tk_root)
    view = teacher.attendance.show_for(teacher.session, "#never", "en", teacher.palette)
    pump_until(tk_root, lambda: view.status.cget("text").startswith("The server did not answer"),
               what="the refusal")
    assert "No attendance is recorded" in view.status.cget("text")
    assert isinstance(view.top, tk.Toplevel)
