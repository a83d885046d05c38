"""The GUI with accounts and lessons: the connect dialog's account fields, a failed login, a connection
refused or ended by the teacher, the teacher's tools and badge, questions mode, and passwords kept off the
screen. Real windows under Xvfb, against a real in-process server with a teacher's account."""
from __future__ import annotations

import json
import tkinter as tk

import pytest

from common.gui.connect_dialog import ConnectDialog
from common.gui.settings import Settings, load_settings, settings_path
from common.gui.theme import THEMES
from common.gui.window import ChatWindow
from common.client.session import SessionConfig
from common.server.accounts import AccountStore
from test_gui import close_and_wait, invoke_by_label, menu_labels, open_window, press, pump_until, type_and_send, \
    view_text  # noqa: F401  (open_window is a fixture)

TEACHER_PASSWORD = "pw-long-enough"
STUDENT_PASSWORD = "masha-password"


@pytest.fixture
def school(make_server, tmp_path):
    """A server with a teacher's account and a student's, and the class channel #math."""
    db = str(tmp_path / "school.sqlite3")
    store = AccountStore(db)
    store.create("teacher", TEACHER_PASSWORD, teacher=True)
    store.create("masha", STUDENT_PASSWORD)
    store.close()
    return make_server(db_path=db, class_channels=("#math",), login_delay=0.01)


@pytest.fixture
def windows(tk_root):
    """Open ChatWindows that save their settings (into the test's own config folder); closed at the end."""
    opened: list[ChatWindow] = []

    def open_(config: SessionConfig, save: bool = True) -> ChatWindow:
        window = ChatWindow(tk.Toplevel(tk_root), config, Settings(), "en", save=save)
        opened.append(window)
        return window

    yield open_
    close_and_wait(tk_root, opened)


def config_for(address, nick: str, channel: str | None = "#math", **overrides) -> SessionConfig:
    return SessionConfig(host=address[0], port=address[1], nick=nick, pace_rate=0, backoff_first=0.05,
                         backoff_max=0.2, channels=(channel,) if channel else (), **overrides)


def open_teacher(windows, school, root: tk.Misc) -> ChatWindow:
    """The teacher's window, logged in to the teacher's account and shown #math."""
    teacher = windows(config_for(school.address, "teacher", account="teacher", account_password=TEACHER_PASSWORD),
                      save=False)
    pump_until(root, lambda: teacher.session.is_oper and teacher.book.current == "#math",
               what="the teacher to log in and join")
    return teacher


def test_connect_dialog_has_account_fields_and_checks_a_new_account(tk_root):
    connected: list[SessionConfig] = []
    dialog = ConnectDialog(tk.Toplevel(tk_root), Settings(nick="masha"), "en", on_connect=connected.append,
                           on_cancel=lambda: None)
    assert dialog.entries["account_password"].cget("show") == "•"
    assert dialog.entries["password"].cget("show") == "•"
    dialog.set_value("account", "masha")
    dialog.submit()
    assert "Enter the account's password." in dialog.problems.cget("text") and not connected
    dialog.create_account.invoke()
    dialog.set_value("account", "misha")
    dialog.set_value("account_password", "short")
    dialog.submit()
    problems = dialog.problems.cget("text")
    assert "named after your nickname" in problems and "at least 6 characters" in problems and not connected
    dialog.set_value("account", "")  # a new account takes the nick
    dialog.set_value("account_password", STUDENT_PASSWORD)
    dialog.submit()
    config = connected[0]
    assert (config.account, config.account_password, config.create_account) == ("masha", STUDENT_PASSWORD, True)


def test_a_login_remembers_the_account_but_never_the_password(school, windows, tk_root):
    teacher = windows(config_for(school.address, "teacher", account="teacher", account_password=TEACHER_PASSWORD))
    pump_until(tk_root, lambda: teacher.session.is_oper and teacher.book.current == "#math",
               what="the teacher to log in and join")
    pump_until(tk_root, lambda: any(line.text == "Logged in as teacher." for line in teacher.book.find("*").lines),
               what="the window to say the teacher logged in")
    saved = settings_path().read_text(encoding="utf-8")
    assert json.loads(saved)["account"] == "teacher"
    assert TEACHER_PASSWORD not in saved and "password" not in saved
    assert load_settings().port == school.address[1]


def test_a_failed_login_says_why_and_brings_the_dialog_back(school, windows, tk_root):
    masha = windows(config_for(school.address, "masha", account="masha", account_password="wrong-password"))
    pump_until(tk_root, lambda: masha.dialog is not None, what="the connect dialog to come back")
    assert masha.banner.text.startswith("Could not log in as masha: ")
    assert "Check the account and the password" in masha.dialog.problems.cget("text")
    assert masha.dialog.values()["account"] == "masha" and masha.dialog.values()["account_password"] == ""
    pump_until(tk_root, lambda: masha.state_key == "state_offline", what="the session to stop")
    assert load_settings().port == Settings().port, "a connection that failed saves nothing"
    masha.dialog.set_value("account_password", STUDENT_PASSWORD)
    masha.dialog.submit()
    pump_until(tk_root, lambda: masha.session.account == "masha" and masha.book.current == "#math",
               what="the second login")
    assert not masha.banner.shown


def test_a_refused_connection_retries_and_offers_another_server(server_process, windows, tk_root):
    first = server_process()
    address = first.address
    assert first.stop() == 0
    alice = windows(config_for(address, "alice", channel="#general"))
    pump_until(tk_root, lambda: alice.banner.shown, what="the banner")
    assert alice.banner.text.startswith(f"Could not connect to 127.0.0.1:{address[1]}: ")
    assert alice.banner.button.cget("text") == "Connect to another server…"
    chat_menu = alice.menubar.nametowidget(alice.menubar.entrycget(1, "menu"))
    assert "Connect to another server…" in menu_labels(chat_menu)
    assert alice.state_key == "state_reconnecting"
    assert load_settings().port == Settings().port, "settings are saved only after a connection succeeds"
    server_process("--port", str(address[1]))
    pump_until(tk_root, lambda: alice.session.is_joined("#general") and not alice.banner.shown,
               what="a retry to connect")
    assert load_settings().port == address[1]
    invoke_by_label(chat_menu, "Connect to another server…")
    pump_until(tk_root, lambda: alice.dialog is not None and alice.dialog.top.winfo_exists())
    assert alice.dialog.values()["nick"] == "alice"
    alice.dialog.cancel()
    assert alice.session.is_registered, "cancelling the dialog leaves the connection as it was"


def test_sent_away_by_the_teacher_is_not_a_network_drop(school, windows, tk_root):
    student = windows(config_for(school.address, "student"))
    pump_until(tk_root, lambda: student.book.current == "#math", what="the student to join")
    killer = open_teacher(windows, school, tk_root)
    type_and_send(killer, "/kill student time to go home")
    pump_until(tk_root, lambda: student.state_key == "state_offline", what="the student to be sent away")
    assert "time to go home" in student.banner.text
    assert "disconnected on purpose" in student.banner.text and "Reconnecting" not in student.banner.text
    assert student.banner.button.cget("text") == "Connect again…"
    student.banner.button.invoke()
    pump_until(tk_root, lambda: student.dialog is not None)
    student.dialog.submit()
    pump_until(tk_root, lambda: student.session.is_joined("#math") and student.state_key == "state_registered",
               what="the student to connect again")
    assert not student.banner.shown


def test_teachers_tools_badge_and_a_mute_by_account(school, windows, tk_root):
    teacher = open_teacher(windows, school, tk_root)
    masha = windows(config_for(school.address, "masha", account="masha", account_password=STUDENT_PASSWORD),
                    save=False)
    pump_until(tk_root, lambda: "teacher" in masha.member_list.nicks and "masha" in teacher.member_list.nicks,
               what="both in #math")
    rows = [row.strip() for row in masha.member_list.listbox.get(0, "end")]
    assert rows[0] == "★teacher", rows
    assert masha.member_list.legend.winfo_ismapped() and masha.member_list.legend.cget("text") == "★ teacher"
    assert masha.member_list.listbox.itemcget(0, "foreground") == THEMES["light"].teacher
    masha.apply_theme("dark")
    assert masha.member_list.listbox.itemcget(0, "foreground") == THEMES["dark"].teacher, "readable when dark too"
    type_and_send(teacher, "open your books")
    pump_until(tk_root, lambda: "open your books" in view_text(masha), what="the teacher's message")
    badges = masha.view.text.tag_ranges("badge")
    assert badges and masha.view.text.get(badges[0], badges[1]) == " ★ teacher "

    masha.fill_channel_menu()
    assert menu_labels(masha.channel_menu) == ["Only the channel's operators can change it"]
    teacher.fill_channel_menu()
    labels = menu_labels(teacher.channel_menu)
    assert labels[-5:] == ["Make it an ordinary channel", "Attendance…", "Start the lesson",
                           "Announcement to everyone…", "End the lesson…"]
    invoke_by_label(teacher.channel_menu, "Make it an ordinary channel")
    pump_until(tk_root, lambda: "teacher made this an ordinary channel" in view_text(masha), what="#math to be ordinary")
    teacher.fill_channel_menu()
    invoke_by_label(teacher.channel_menu, "Make this a class channel")
    pump_until(tk_root, lambda: "C" in teacher.session.channel_modes("#math"), what="#math to be a class again")

    type_and_send(masha, "/nick masha2")  # the teacher's window knows her account under the new nick too
    pump_until(tk_root, lambda: "masha2" in teacher.member_list.nicks, what="masha's new nick")
    teacher.fill_member_menu("masha2")
    invoke_by_label(teacher.member_menu, "Mute")
    pump_until(tk_root, lambda: "masha was muted by teacher" in view_text(masha),
               what="masha to hear that her account is muted")
    pump_until(tk_root, lambda: "masha2 ✕" in [row.strip() for row in teacher.member_list.listbox.get(0, "end")],
               what="the member list to mark masha muted")
    type_and_send(masha, "can I speak?")
    pump_until(tk_root, lambda: "you are muted" in view_text(masha), what="masha to learn she is muted")
    teacher.fill_member_menu("masha2")
    assert "Unmute" in menu_labels(teacher.member_menu)


def test_own_question_is_marked_in_questions_mode(school, windows, tk_root):
    teacher = open_teacher(windows, school, tk_root)
    masha = windows(config_for(school.address, "masha"), save=False)
    pump_until(tk_root, lambda: masha.book.current == "#math", what="masha to join")
    type_and_send(masha, "before questions mode")
    pump_until(tk_root, lambda: "before questions mode" in view_text(masha))
    teacher.fill_channel_menu()
    invoke_by_label(teacher.channel_menu, "Questions to the teacher only")
    pump_until(tk_root, lambda: "U" in masha.session.channel_modes("#math"), what="questions mode")
    type_and_send(masha, "what is a prime?")
    pump_until(tk_root, lambda: "what is a prime?  (only the teacher sees this)" in view_text(masha),
               what="the note on masha's question")
    assert "before questions mode  (" not in view_text(masha)
    pump_until(tk_root, lambda: "what is a prime?" in view_text(teacher), what="the question to reach the teacher")
    assert "only the teacher sees this" not in view_text(teacher)
    masha.set_language("ru")
    type_and_send(masha, "а второй вопрос?")
    pump_until(tk_root, lambda: "а второй вопрос?  (это видит только учитель)" in view_text(masha))


def test_passwords_stay_out_of_the_history_and_off_the_screen(server_process, open_window, tk_root):
    process = server_process("--oper", "teacher:secret")
    alice = open_window(process.address, "alice")
    entry = alice.input.entry
    for key in ("slash", "o", "p", "e", "r", "space"):
        press(alice, f"<KeyPress-{key}>")
    assert entry.cget("show") == "•", "a line that will carry a password is masked as it is typed"
    entry.insert("end", "teacher secret")
    press(alice, "<Return>")
    pump_until(tk_root, lambda: alice.session.is_oper, what="the /oper to work")
    assert entry.get() == "" and entry.cget("show") == "", "an empty line is shown again"
    type_and_send(alice, "/register my-new-password")
    type_and_send(alice, "hello")
    assert alice.input.history == ["hello"]
    press(alice, "<Up>")
    assert entry.get() == "hello"
    press(alice, "<Up>")
    assert entry.get() == "hello", "no secret line to walk back to"
    assert all("secret" not in line and "my-new-password" not in line for line in alice.input.history)
