"""Raised hands and polls in the Tk window, under Xvfb against the real server process: a student raises a
hand with the button and the teacher calls on them from the queue; the teacher opens a poll with the
dialog, answers arrive, the chart's bars follow the counts, and the result is saved as CSV."""
from __future__ import annotations

import socket
import time
import tkinter as tk
from tkinter import filedialog

from common.gui.settings import Settings
from common.gui.window import ChatWindow
from common.client.session import SessionConfig
from helpers import IRCTestClient
from test_gui import close_and_wait, open_window, pump_until, view_text  # noqa: F401  (open_window is a fixture)

CAP = "classchat.org/classroom"


def test_a_student_raises_a_hand_and_the_teacher_calls_on_them(server_process, open_window, tk_root):
    process = server_process()
    teacher = open_window(process.address, "teacher")  # the first in #general: its operator
    alice = open_window(process.address, "alice")
    plain = IRCTestClient(process.address).register("plain")
    plain.join("#general")
    panel, strip = teacher.classroom, alice.classroom
    pump_until(tk_root, lambda: strip.winfo_manager() and panel.winfo_manager(), what="the classroom strips")
    assert not strip.poll_button.winfo_manager() and panel.poll_button.winfo_manager(), "New poll… for the teacher"
    assert not panel.hand_button.winfo_manager() and strip.hand_button.cget("text") == "✋ Raise hand"
    teacher.session.command("MODE", "#general", "+m")
    pump_until(tk_root, lambda: "m" in alice.session.channel_modes("#general"))

    strip.hand_button.invoke()
    pump_until(tk_root, lambda: panel.queue.nicks == ["alice"], what="alice in the teacher's queue")
    assert panel.count_label.cget("text") == "✋ 1 hand up"
    pump_until(tk_root, lambda: strip.hand_button.cget("text") == "✋ Lower hand", what="the toggle")
    assert strip.count_label.cget("text") == "✋ 1 hand up"
    assert plain.expect(r" NOTICE #general ").params[1] == "alice raised a hand (1 hand up)"
    assert panel.queue.up_for("alice") in ("0:00", "0:01")
    panel.queue.tick(panel.view.hands[0][1] + 83_000)  # what the one-second tick shows 83 s later
    assert panel.queue.up_for("alice") == "1:23"
    assert "alice raised a hand" not in view_text(teacher), "a raised hand shows in the queue, not the chat"

    panel.queue.call_button.invoke()
    pump_until(tk_root, lambda: alice.session.members("#general").get("alice") == "+", what="alice's voice")
    pump_until(tk_root, lambda: strip.hand_button.cget("text") == "✋ Raise hand", what="alice's hand down")
    pump_until(tk_root, lambda: not panel.queue.winfo_manager(), what="the empty queue to go")
    assert "teacher called on you: your turn to speak" in view_text(alice)
    assert panel.count_label.cget("text") == "✋ no hands up"
    plain.expect(r"teacher called on alice")
    alice.set_language("ru")
    assert (strip.hand_button.cget("text"), strip.count_label.cget("text")) == ("✋ Поднять руку",
                                                                                "✋ поднятых рук нет")


def test_a_poll_from_the_dialog_to_the_chart_and_its_csv(server_process, open_window, tk_root, tmp_path,
                                                         monkeypatch):
    process = server_process("--flood-rate", "0")
    teacher = open_window(process.address, "teacher")
    alice = open_window(process.address, "alice")
    voters = [IRCTestClient(process.address).register(f"voter{index}", caps=(CAP,)) for index in range(30)]
    for voter in voters:
        voter.join("#general")
    panel = teacher.classroom
    pump_until(tk_root, lambda: len(teacher.session.members("#general")) == 32 and panel.winfo_manager())
    panel.poll_button.invoke()
    dialog = panel.dialog
    dialog.fill("Which is bigger?", ["2^10", "10^3"], named=False, seconds="99999")
    dialog.open_button.invoke()
    assert dialog.problems.cget("text") == "A time limit is 5 to 3600 seconds, or 0 for none."
    dialog.fill("Which is bigger?", ["2^10", "10^3", "equal"], named=True, seconds="120")
    dialog.open_button.invoke()
    ballot = alice.classroom.ballot
    pump_until(tk_root, lambda: ballot.winfo_manager() and len(ballot.buttons) == 3, what="alice's answer buttons")
    assert [button.cget("text") for button in ballot.buttons] == ["1. 2^10", "2. 10^3", "3. equal"]
    assert ballot.status.cget("text").startswith("closes in 1:5") or ballot.status.cget("text") == "closes in 2:00"
    ballot.buttons[1].invoke()
    pump_until(tk_root, lambda: ballot.buttons[1].cget("style") == "Chosen.TButton", what="alice's choice marked")
    for voter in voters:
        voter.expect(r" POLL #general OPENED ")
    started = time.monotonic()
    for index, voter in enumerate(voters):
        voter.send(f"VOTE #general {1 if index < 20 else 3}")
    chart = panel.chart
    pump_until(tk_root, lambda: chart.poll is not None and chart.poll.total == 31 and chart._draw_id is None
               and chart.canvas.itemcget("count1", "text") == "20 (65%)", what="the chart with every vote")
    elapsed = time.monotonic() - started
    assert chart.draws <= 4 * elapsed + 3, f"{chart.draws} drawings in {elapsed:.2f} s: not throttled"
    assert chart.canvas.itemcget("count2", "text") == "1 (3%)" and chart.canvas.itemcget("count3", "text") == "10 (32%)"
    assert chart.bar_width(1) > chart.bar_width(3) > chart.bar_width(2) > 0
    assert abs(chart.bar_width(3) / chart.bar_width(1) - 10 / 20) < 0.05, "bars in proportion to the counts"
    assert chart.canvas.itemcget("voters2", "text") == "alice"
    assert chart.status.cget("text").startswith("31 votes · closes in ")

    chosen = tmp_path / "result.csv"
    monkeypatch.setattr(filedialog, "asksaveasfilename", lambda **options: str(chosen))
    chart.save_button.invoke()
    rows = chosen.read_text(encoding="utf-8").splitlines()
    assert rows[0] == "channel,poll,question,number,option,votes,percent,voters"
    assert rows[2] == "#general,1,Which is bigger?,2,10^3,1,3,alice"
    assert rows[3].startswith("#general,1,Which is bigger?,3,equal,10,32,voter20; voter21")
    assert f"Saved the poll's result to {chosen}" in chart.status.cget("text")

    chart.close_button.invoke()
    pump_until(tk_root, lambda: not ballot.winfo_manager(), what="the answer buttons to go when it closes")
    pump_until(tk_root, lambda: "Poll closed by teacher: Which is bigger? (31 votes)" in view_text(alice))
    pump_until(tk_root, lambda: chart.poll.closed and not chart.close_button.winfo_manager())
    assert "closed" in chart.status.cget("text")
    chart.hide_button.invoke()
    assert not chart.winfo_manager()


def test_no_strip_where_the_server_offers_no_hands(display, tk_root):
    """A server that does not offer classchat.org/classroom (the test plays it): no strip, no button."""
    listener = socket.create_server(("127.0.0.1", 0))
    config = SessionConfig(host="127.0.0.1", port=listener.getsockname()[1], nick="kid", channels=("#c",),
                           pace_rate=0, reconnect=False)
    window = ChatWindow(tk.Toplevel(tk_root), config, Settings(), "en", save=False)
    server = IRCTestClient.accepted(listener)
    try:
        server.expect(r"^CAP LS")
        server.send(":srv CAP * LS :server-time")
        server.expect(r"^CAP REQ")
        server.send(":srv CAP kid ACK :server-time")
        server.expect(r"^CAP END")
        server.send(":srv 001 kid :hi\r\n:srv 376 kid :end\r\n:kid!k@h JOIN #c\r\n:srv 353 kid = #c :kid\r\n"
                    ":srv 366 kid #c :end")
        pump_until(tk_root, lambda: window.book.current == "#c" and window.member_list.nicks == ["kid"])
        assert not window.classroom.winfo_manager()
        server.send(":srv HANDS #c :kid=1")  # lines of a capability never granted change nothing shown
        server.send(":srv PING :still")
        server.expect(r"PONG")
        tk_root.update()
        assert not window.classroom.winfo_manager()
    finally:
        server.close()
        close_and_wait(tk_root, [window])
        listener.close()
