#!/usr/bin/env python3
"""Take docs/hands_and_polls.png (the teacher's window: a queue of raised hands and a live poll) and
docs/hands_and_polls_student.png (a student's: the raise-hand toggle and the answer buttons), on a
virtual 1366x768 screen, from the real program.

    python3 docs/screenshot_classroom.py

A server runs in this process with its clock set back while the students raise their hands, so that the
queue shows hands that have been up for a while without waiting for it. Needs Debian's xvfb and
imagemagick (its ``import`` takes the picture).
"""
from __future__ import annotations

import sys
import time

from shots import Screen, serve_in_thread, stop_server_thread, submit

from helpers import IRCTestClient  # the tests' raw client (shots puts tests/ on the path)

CAP = "classchat.org/classroom"
STUDENTS = ("masha", "petya", "dima", "olya", "sasha", "katya", "vanya", "lena", "igor", "nastya", "artem", "zoya")
RAISED = (("petya", 95), ("olya", 48), ("dima", 21), ("katya", 6))  # who raises a hand, how many seconds ago
VOTES = {"masha": 2, "petya": 2, "dima": 1, "olya": 2, "sasha": 3, "katya": 2, "vanya": 1, "lena": 2, "igor": 4,
         "nastya": 2, "artem": 1}
CHAT = (("teacher", "Today: how a server keeps many clients apart. Questions? Raise your hand."),
        ("masha", "Is it one thread per client?"),
        ("teacher", "In classchat, yes: one reader thread per connection and one lock for the shared state."),
        ("dima", "And who sends the messages out?"))


class ShiftedClock:
    """The server's clock: the real time plus ``shift`` seconds."""

    def __init__(self) -> None:
        self.shift = 0.0

    def __call__(self) -> float:
        return time.time() + self.shift


def main() -> int:
    with Screen("screenshot_classroom.py") as screen:
        return scene(screen)


def scene(screen: Screen) -> int:
    import tkinter as tk

    from common.client.classroom import make_poll_request
    from common.client.session import SessionConfig
    from common.gui.settings import Settings
    from common.gui.window import ChatWindow
    from common.server.server import ChatServer, ServerConfig

    clock = ShiftedClock()
    server = ChatServer(ServerConfig(port=0, tls_port=0, flood_rate=0, opers={"teacher": "secret"},
                                     class_channels=("#math",), history=False), wall_clock=clock)
    serving = serve_in_thread(server)
    root = screen.hidden_root()
    pump = screen.wait_until
    windows: list[ChatWindow] = []
    students: dict[str, IRCTestClient] = {}

    def open_window(nick: str, geometry: str) -> ChatWindow:
        top = tk.Toplevel(root)
        top.geometry(geometry)
        config = SessionConfig(port=server.address[1], nick=nick, pace_rate=0)
        window = ChatWindow(top, config, Settings(), "en", save=False)
        windows.append(window)
        pump(lambda: window.session.is_registered, f"{nick} to connect")
        return window

    try:
        teacher = open_window("teacher", "1366x768+0+0")
        submit(teacher, "/oper teacher secret")
        pump(lambda: teacher.session.is_oper, "the teacher's login")
        submit(teacher, "/join #math")
        pump(lambda: teacher.book.current == "#math", "the teacher in #math")
        submit(teacher, "/topic Lesson 5: threads, sockets and one lock")
        for nick in STUDENTS:
            student = IRCTestClient(server.address).register(nick, caps=(CAP,) if nick != "zoya" else ())
            student.join("#math")
            students[nick] = student
        pump(lambda: len(teacher.session.members("#math")) == len(STUDENTS) + 1, "the class")
        for nick, text in CHAT:
            if nick == "teacher":
                submit(teacher, text)
            else:
                students[nick].send(f"PRIVMSG #math :{text}")
            pump(lambda: text[:30] in teacher.view.text.get("1.0", "end"), repr(text))
        for nick, seconds_ago in RAISED:
            clock.shift = -seconds_ago
            students[nick].send("HAND #math")
            students[nick].expect(rf":{nick}!\S+ HAND #math UP")
        clock.shift = 0.0
        request = make_poll_request("Which server design scales best for a classroom?",
                                    ["One thread per client", "One thread and select()", "A process per client",
                                     "asyncio"], True, "120")
        teacher.classroom.open_poll(request)
        for student in students.values():
            student.expect(r" POLL #math OPENED | NOTICE #math :Poll by")
        for nick, option in VOTES.items():
            students[nick].send(f"VOTE #math {option}")
        pump(lambda: teacher.session.classroom("#math").poll is not None
             and teacher.session.classroom("#math").poll.total == len(VOTES), "the votes")
        pump(lambda: teacher.classroom.chart.draws and teacher.classroom.chart.poll.total == len(VOTES)
             and teacher.classroom.chart._draw_id is None, "the chart")
        screen.snap("hands_and_polls.png")

        teacher.top.withdraw()
        student = open_window("vera", "1366x768+0+0")
        submit(student, "/join #math")
        pump(lambda: student.book.current == "#math" and student.session.classroom("#math").poll is not None,
             "vera in #math with the poll")
        student.classroom.vote(2)
        student.classroom.toggle_hand()
        pump(lambda: student.classroom.ballot.poll.my_vote == 2
             and student.classroom.view.hand_of("vera"), "vera's vote and hand in her window")
        screen.snap("hands_and_polls_student.png")
    finally:
        for window in windows:
            window.close()
        pump(lambda: all(window.closed for window in windows), "the windows to close")
        for student in students.values():
            student.close()
        stop_server_thread(server, serving)
        root.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
