#!/usr/bin/env python3
"""Take docs/attendance.png: the teacher's attendance window over the teacher's chat, on a virtual 1366x768
screen, against a real server whose database holds two earlier lessons and which runs today's.

    python3 docs/attendance_screenshot.py

Needs Debian's xvfb and imagemagick (see docs/screenshot.py). The server's clock is the script's, so that
today's lesson has minutes to show without waiting for them.
"""
from __future__ import annotations

import sys
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path

from shots import Screen, serve_in_thread, stop_server_thread, submit

from helpers import IRCTestClient  # the tests' raw client (shots puts tests/ on the path)

STUDENTS = ["masha", "dima", "Алёна", "petya", "Саша", "vova"]
EARLIER = {  # days before today: (student, joined "HH:MM", left "HH:MM")
    7: [("masha", "09:00", "09:45"), ("dima", "09:02", "09:45"), ("Алёна", "09:00", "09:20"),
        ("Алёна", "09:24", "09:45"), ("petya", "09:11", "09:45"), ("Саша", "09:00", "09:38")],
    2: [("masha", "09:01", "09:45"), ("dima", "09:00", "09:30"), ("Алёна", "09:00", "09:45"),
        ("petya", "09:00", "09:45"), ("vova", "09:15", "09:45"), ("Саша", "09:03", "09:44")],
}


def seed(db: str) -> None:
    """Two earlier lessons, and the accounts: the teacher's, masha's and dima's."""
    from common.server.accounts import AccountStore
    from common.server.attendance import AttendanceTable, person_key
    from common.server.history import HistoryStore

    store = HistoryStore(db)
    table = AttendanceTable(store.db)
    for days_ago, visits in EARLIER.items():
        day = date.today() - timedelta(days=days_ago)
        for nick, joined, left in visits:
            account = nick if nick in ("masha", "dima") else None
            at = lambda hhmm: int(datetime.combine(day, datetime.strptime(hhmm, "%H:%M").time()).timestamp() * 1000)
            row_id = table.open_interval("#math", person_key(nick, account), nick, account, at(joined))
            table.close_interval(row_id, at(left))
    for days_ago in EARLIER:
        day = date.today() - timedelta(days=days_ago)
        start = int(datetime.combine(day, datetime.strptime("08:58", "%H:%M").time()).timestamp() * 1000)
        row_id = table.open_interval("#math", person_key("ivanova", "ivanova"), "ivanova", "ivanova", start)
        table.close_interval(row_id, start + 49 * 60_000)
    store.close()
    accounts = AccountStore(db)
    accounts.create("ivanova", "chalk-and-board", teacher=True)
    for name in ("masha", "dima"):
        accounts.create(name, f"{name}-password")
    accounts.close()


def main() -> int:
    with Screen("attendance_screenshot.py") as screen:
        return scene(screen)


def scene(screen: Screen) -> int:
    import tkinter as tk

    from common.client.session import SessionConfig
    from common.gui.settings import Settings
    from common.gui.window import ChatWindow
    from common.server.server import ChatServer, ServerConfig
    from test_attendance_command import log_in

    folder = tempfile.mkdtemp(prefix="classchat-shot-")
    db = str(Path(folder) / "history.sqlite3")
    seed(db)
    moment = [datetime.combine(date.today(), datetime.strptime("08:58", "%H:%M").time()).timestamp()]

    def set_clock(hhmm: str) -> None:
        moment[0] = datetime.combine(date.today(), datetime.strptime(hhmm, "%H:%M").time()).timestamp()

    server = ChatServer(ServerConfig(host="127.0.0.1", port=0, db_path=db, class_channels=("#math",),
                                     login_delay=0.01), wall_clock=lambda: moment[0])
    serving = serve_in_thread(server)
    root = screen.hidden_root()

    def wait_until(condition, what: str) -> None:
        screen.wait_until(condition, what, timeout=20.0)

    class Opener:
        address = server.address

        def client(self) -> IRCTestClient:
            return IRCTestClient(server.address)

    clients: list[IRCTestClient] = []
    top = tk.Toplevel(root)
    top.geometry("1366x740+0+0")
    teacher = ChatWindow(top, SessionConfig(host="127.0.0.1", port=server.address[1], nick="ivanova",
                                            account="ivanova", account_password="chalk-and-board", pace_rate=0,
                                            channels=("#math",)), Settings(), "en", save=False)
    try:
        wait_until(lambda: teacher.session.is_oper and teacher.book.current == "#math", "the teacher in #math")
        for minute, nick in zip(("09:00", "09:00", "09:01", "09:02", "09:04", "09:07"), STUDENTS):
            set_clock(minute)
            student = log_in(Opener(), nick, nick, f"{nick}-password") if nick in ("masha", "dima") \
                else IRCTestClient(server.address).register(nick)
            student.join("#math")
            clients.append(student)
        set_clock("09:05")
        submit(teacher, "Good morning! Today: sockets and threads.")
        set_clock("09:12")
        clients[0].send("PRIVMSG #math :Доброе утро!")
        set_clock("09:31")
        clients[3].send("PART #math :to the nurse")
        wait_until(lambda: "petya" not in teacher.session.members("#math"), "petya to leave")
        set_clock("09:46")
        teacher.open_attendance("#math")
        view = teacher.attendance.open["#math"]
        wait_until(lambda: len(view.tree.get_children()) >= 19, "the attendance rows")
        view.top.geometry("900x480+137+70")  # over the chat, its times too (the clients stamp joins by their own clock)
        wait_until(lambda: view.top.winfo_ismapped(), "the attendance window")
        screen.snap("attendance.png")
    finally:
        for client in clients:
            client.close()
        teacher.close()
        wait_until(lambda: teacher.closed, "the window to close")
        root.destroy()
        stop_server_thread(server, serving)
    return 0


if __name__ == "__main__":
    sys.exit(main())
