"""The Tk GUI: real windows under Xvfb, against the real server process, driven through real widgets."""
from __future__ import annotations

import threading
import time
import tkinter as tk

import pytest

from common.gui.settings import Settings, load_settings
from common.gui.theme import THEMES
from common.gui.connect_dialog import ConnectDialog
from chat_client_gui import WINDOW_SIZE
from common.gui.window import ChatWindow
from common.client.session import SessionConfig
from helpers import IRCTestClient


def pump_until(root: tk.Misc, condition, timeout: float = 10.0, what: str = "the window") -> None:
    """Run the Tk loop until ``condition()`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        root.update()
        pause.wait(0.01)


def view_text(window: ChatWindow) -> str:
    return window.view.text.get("1.0", "end")


@pytest.fixture
def open_window(tk_root):
    windows: list[ChatWindow] = []

    def open_(address, nick: str, channel: str | None = "#general", **overrides) -> ChatWindow:
        config = SessionConfig(host=address[0], port=address[1], nick=nick, pace_rate=0,
                               channels=(channel,) if channel else (), **overrides)
        window = ChatWindow(tk.Toplevel(tk_root), config, Settings(), "en", save=False)
        window.top.geometry(WINDOW_SIZE)  # as chat_client_gui.py opens it, not the smallest the layout allows
        windows.append(window)
        if channel:
            pump_until(tk_root, lambda: window.book.current == channel, what=f"{nick} to join {channel}")
        return window

    yield open_
    close_and_wait(tk_root, windows)


def close_and_wait(root: tk.Misc, windows: list[ChatWindow]) -> None:
    """Close windows as their Quit does, and run the Tk loop until each has quit and is gone."""
    for window in windows:
        window.close()
    pump_until(root, lambda: all(window.closed for window in windows), timeout=15, what="the windows to close")


def press(window: ChatWindow, key: str) -> None:
    """A key press in the input line; key events go to the focused widget, as from a keyboard."""
    entry = window.input.entry
    entry.focus_force()
    # X moves the focus asynchronously: wait until Tk sees it here, or the key goes to another window.
    pump_until(entry, lambda: entry.focus_get() is entry, timeout=5, what="the input line to get the focus")
    entry.event_generate(key)


def member_row(window: ChatWindow, nick: str) -> tuple[int, int]:
    """Where a member's row is in the member list: (x, y) of a point inside it."""
    x, y, _, height = window.member_list.listbox.bbox(window.member_list.nicks.index(nick))
    return x + 2, y + height // 2


def type_and_send(window: ChatWindow, text: str) -> None:
    """Type into the input line and submit it, as Enter and the Send button do.

    With several top-level windows and no window manager, a synthetic key can reach another window's
    focus, so this fires the input line's own signal; the keys themselves are tested with one window.
    """
    entry = window.input.entry
    entry.delete(0, "end")
    entry.insert(0, text)
    window.input.event_generate("<<InputSubmitted>>")


def test_typed_message_appears_in_another_window(server_process, open_window, tk_root):
    process = server_process()
    alice = open_window(process.address, "alice")
    bob = open_window(process.address, "bob")
    type_and_send(alice, "Привет, Боб! Смотри https://python.org")
    pump_until(tk_root, lambda: "Привет, Боб!" in view_text(bob), what="the message in bob's window")
    assert alice.input.value == "", "the sent text should leave the input line"
    link_ranges = bob.view.text.tag_ranges("link")
    assert bob.view.text.get(link_ranges[0], link_ranges[1]) == "https://python.org"
    pump_until(tk_root, lambda: bob.member_list.nicks == ["alice", "bob"], what="bob's member list")
    assert bob.member_list.listbox.get(0).strip() == "@alice"
    assert bob.status.cget("text") == f"127.0.0.1:{process.address[1]} · bob · connected"


def test_unread_counts_mentions_and_title(server_process, open_window, tk_root):
    process = server_process()
    bob = open_window(process.address, "bob")
    teacher = IRCTestClient(process.address).register("teacher")
    teacher.join("#general")
    teacher.join("#other")
    bob.session.join("#other")
    pump_until(tk_root, lambda: bob.book.find("#other") is not None)
    bob.open_conversation("#general")
    teacher.send("PRIVMSG #other :one")
    teacher.send("PRIVMSG #other :two, bob!")
    teacher.send("PRIVMSG bob :a private word")
    pump_until(tk_root, lambda: bob.book.total_unread == 3, what="three unread messages")
    labels = [bob.conversation_list.listbox.get(i).strip() for i in range(bob.conversation_list.listbox.size())]
    assert "#other  (2)" in labels and "teacher  (1)" in labels
    assert bob.book.find("#other").mentioned
    assert bob.top.title() == "(3) classchat — bob"
    bob.open_conversation("#other")
    assert "two, bob!" in view_text(bob) and bob.book.total_unread == 1
    assert bob.top.title() == "(1) classchat — bob"


def test_nick_completion_and_input_history(server_process, open_window, tk_root):
    process = server_process()
    alice = open_window(process.address, "alice")
    others = [IRCTestClient(process.address).register(nick) for nick in ("carol", "caroline")]
    for other in others:
        other.join("#general")
    pump_until(tk_root, lambda: len(alice.session.members("#general")) == 3, what="three members")
    entry = alice.input.entry
    entry.insert(0, "ca")
    press(alice, "<Tab>")
    assert entry.get() == "carol: "
    press(alice, "<Tab>")
    assert entry.get() == "caroline: "
    for text in ("first", "second"):
        entry.delete(0, "end")
        entry.insert(0, text)
        press(alice, "<Return>")
        assert entry.get() == "", "Enter should send and clear the line"
    press(alice, "<Up>")
    assert entry.get() == "second"
    press(alice, "<Up>")
    assert entry.get() == "first"
    press(alice, "<Down>")
    press(alice, "<Down>")
    assert entry.get() == ""


def test_private_chat_from_the_member_list(server_process, open_window, tk_root):
    process = server_process()
    alice = open_window(process.address, "alice")
    bob = IRCTestClient(process.address).register("bob")
    bob.join("#general")
    pump_until(tk_root, lambda: "bob" in alice.member_list.nicks)
    listbox = alice.member_list.listbox
    x, y = member_row(alice, "bob")
    for _ in range(2):  # a double click
        listbox.event_generate("<ButtonPress-1>", x=x, y=y)
        listbox.event_generate("<ButtonRelease-1>", x=x, y=y)
    assert alice.book.current == "bob"
    type_and_send(alice, "just between us")
    assert bob.expect(r" PRIVMSG bob ").params[1] == "just between us"
    bob.send("PRIVMSG alice :sure")
    pump_until(tk_root, lambda: "sure" in view_text(alice))
    type_and_send(alice, "/query carol")
    assert alice.book.current == "carol"


def test_operator_menu_only_for_operators(server_process, open_window, tk_root):
    process = server_process()
    alice = open_window(process.address, "alice")
    bob = IRCTestClient(process.address).register("bob")
    bob.join("#general")
    pump_until(tk_root, lambda: "bob" in alice.member_list.nicks)
    x, y = member_row(alice, "bob")
    alice.member_list.listbox.event_generate("<Button-3>", x=x, y=y, rootx=100, rooty=100)
    menu = alice.member_menu
    labels = [menu.entrycget(i, "label") for i in range(menu.index("end") + 1) if menu.type(i) == "command"]
    menu.unpost()
    assert labels == ["Private chat", "Who is this?", "Make operator", "Give voice", "Mute", "Kick", "Kick and ban"]
    menu.invoke(labels.index("Make operator") + 1)  # the separator is entry 2
    bob.expect(r" MODE #general \+o bob")
    pump_until(tk_root, lambda: alice.session.members("#general").get("bob") == "@")
    carol = open_window(process.address, "carol")
    pump_until(tk_root, lambda: "bob" in carol.member_list.nicks)
    carol.fill_member_menu("bob")
    assert menu_labels(carol.member_menu) == ["Private chat", "Who is this?"], "a student gets no operator actions"
    carol.fill_channel_menu()
    assert carol.channel_menu.entrycget(0, "label") == "Only the channel's operators can change it"
    assert carol.channel_menu.entrycget(0, "state") == "disabled"


def menu_labels(menu: tk.Menu) -> list[str]:
    return [menu.entrycget(i, "label") for i in range(menu.index("end") + 1) if menu.type(i) == "command"]


def invoke_by_label(menu: tk.Menu, label: str) -> None:
    index = next(i for i in range(menu.index("end") + 1) if menu.type(i) == "command"
                 and menu.entrycget(i, "label") == label)
    menu.invoke(index)


def test_teacher_runs_a_lesson_from_the_gui(server_process, open_window, tk_root):
    """Mute, questions mode, an announcement and the end of the lesson, all through the teacher's menus,
    as the student's window shows them."""
    process = server_process("--oper", "teacher:secret")
    teacher = open_window(process.address, "teacher")
    alice = open_window(process.address, "alice")
    type_and_send(teacher, "/oper teacher secret")
    pump_until(tk_root, lambda: teacher.session.is_oper, what="the teacher to become an operator")
    bob = IRCTestClient(process.address).register("bob")
    bob.join("#general")
    pump_until(tk_root, lambda: {"alice", "bob"} <= set(teacher.member_list.nicks))

    teacher.fill_member_menu("alice")
    invoke_by_label(teacher.member_menu, "Mute")
    pump_until(tk_root, lambda: "alice was muted by teacher" in view_text(alice), what="alice to see she is muted")
    type_and_send(alice, "can I still talk?")
    pump_until(tk_root, lambda: "you are muted (+q)" in view_text(alice), what="the reason alice cannot speak")
    pump_until(tk_root, lambda: alice.session.is_muted("#general", "alice"))
    member_rows = teacher.member_list.listbox
    pump_until(tk_root, lambda: "alice ✕" in [row.strip() for row in member_rows.get(0, "end")],
               what="the member list to mark alice muted")
    teacher.fill_member_menu("alice")
    assert "Unmute" in menu_labels(teacher.member_menu)

    teacher.fill_channel_menu()
    assert menu_labels(teacher.channel_menu) == [
        "Mute everyone (only voiced members speak)", "Questions to the teacher only", "Unlock the topic",
        "Make this a class channel", "Start the lesson", "Announcement to everyone…", "End the lesson…"]
    invoke_by_label(teacher.channel_menu, "Questions to the teacher only")
    pump_until(tk_root, lambda: "questions mode" in view_text(alice), what="alice to hear of questions mode")
    pump_until(tk_root, lambda: "U" in teacher.session.channel_modes("#general"))
    teacher.fill_channel_menu()
    assert "Show every message to everyone" in menu_labels(teacher.channel_menu)
    bob.send("PRIVMSG #general :is the test on Friday?")
    pump_until(tk_root, lambda: "is the test on Friday?" in view_text(teacher),
               what="the question to reach the teacher")
    type_and_send(teacher, "yes, on Friday")
    pump_until(tk_root, lambda: "yes, on Friday" in view_text(alice), what="the public answer")
    assert "is the test on Friday?" not in view_text(alice), "a question under +U reached another student"

    invoke_by_label(teacher.channel_menu, "Announcement to everyone…")
    assert teacher.input.value == "/announce "
    teacher.input.entry.insert("end", "Тест через 5 минут")
    type_and_send(teacher, teacher.input.value)
    pump_until(tk_root, lambda: alice.announcement.shown, what="the announcement banner")
    assert alice.announcement.text.startswith("Announcement from teacher: Тест через 5 минут")
    bob.expect(r"NOTICE \$\* :Тест через 5 минут")

    type_and_send(teacher, "/endlesson see you tomorrow")
    pump_until(tk_root, lambda: alice.banner.shown, what="alice's window to show the lesson ended")
    assert "The lesson has ended: see you tomorrow" in alice.banner.text
    bob.expect_closed()
    assert teacher.session.is_registered, "the teacher stays connected"


def test_theme_font_and_language_switch(server_process, open_window, tk_root):
    process = server_process()
    alice = open_window(process.address, "alice")
    alice.apply_theme("dark")
    assert alice.view.text.cget("background") == THEMES["dark"].background
    size = alice.font.size
    alice.change_font_size(2)
    assert alice.font.size == size + 2
    alice.set_language("ru")
    assert alice.input.button.cget("text") == "Отправить"
    assert "подключено" in alice.status.cget("text")
    assert alice.menubar.entrycget(1, "label") == "Чат"
    type_and_send(alice, "/frobnicate")
    pump_until(tk_root, lambda: "Неизвестная команда /frobnicate" in view_text(alice))


def test_lost_connection_shows_a_banner_keeps_typed_text_and_reconnects(server_process, open_window, tk_root):
    first = server_process()
    port = first.address[1]
    alice = open_window(first.address, "alice", backoff_first=0.05, backoff_max=0.2)
    assert first.stop() == 0
    pump_until(tk_root, lambda: alice.banner.shown, what="the banner")
    assert "Reconnecting" in alice.banner.text
    type_and_send(alice, "typed while offline")
    assert alice.input.value == "typed while offline", "unsent text must stay in the input line"
    server_process("--port", str(port))
    pump_until(tk_root, lambda: not alice.banner.shown and alice.session.is_joined("#general"),
               what="the reconnect")
    press(alice, "<Return>")
    pump_until(tk_root, lambda: alice.input.value == "", what="the kept text to be sent")


def test_a_flood_does_not_grow_the_view_without_bound(server_process, open_window, tk_root, monkeypatch):
    import common.gui.model as model
    import common.gui.widgets as widgets
    monkeypatch.setattr(widgets, "SCROLLBACK_LINES", 200)
    process = server_process("--flood-rate", "0")
    alice = open_window(process.address, "alice")
    flooder = IRCTestClient(process.address).register("flooder")
    flooder.join("#general")
    for index in range(600):
        flooder.send(f"PRIVMSG #general :flood {index}")
    pump_until(tk_root, lambda: "flood 599" in view_text(alice), what="the last flood line")
    lines = int(alice.view.text.index("end-1c").split(".")[0])
    assert lines <= 201
    assert len(alice.book.find("#general").lines) <= model.SCROLLBACK_LINES


def test_emoji_beyond_the_bmp_never_raise(server_process, open_window, tk_root):
    process = server_process()
    alice = open_window(process.address, "alice")
    other = IRCTestClient(process.address).register("other")
    other.join("#general")
    other.send("PRIVMSG #general :smile 😀 and 𝄞")
    pump_until(tk_root, lambda: "smile" in view_text(alice))
    shown = view_text(alice)
    assert "😀" in shown or "\ufffd" in shown


def test_connect_dialog_validates_and_saves_nothing(tk_root):
    connected: list[SessionConfig] = []
    settings = Settings(nick="")
    dialog = ConnectDialog(tk.Toplevel(tk_root), settings, "en", on_connect=connected.append,
                           on_cancel=lambda: None)
    dialog.set_value("port", "99999")
    dialog.set_value("nick", "2bad")
    dialog.submit()
    problems = dialog.problems.cget("text")
    assert "port" in problems and "nickname" in problems and not connected
    dialog.set_value("port", "6697")
    dialog.set_value("nick", "Вася")
    dialog.set_value("password", "secret")
    dialog.tls.invoke()
    dialog.submit()
    assert connected[0].nick == "Вася" and connected[0].port == 6697 and connected[0].password == "secret"
    assert connected[0].tls and connected[0].channels == ("#general",)
    assert load_settings() == Settings(), "the window saves the values once the connection succeeds"


@pytest.fixture
def demo_app(display, tmp_path, monkeypatch):
    import chat_client_gui
    from conftest import retire_tk_root

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    app = chat_client_gui.Application(Settings(), "en")
    yield app
    if not app.finished:
        close_and_wait(app.root, list(app.windows))
    app.finish()  # stops the demo's server, if the test left it running
    retire_tk_root(app.root)


def test_demo_opens_three_windows_and_stops_its_server(demo_app):
    import chat_client_gui

    app = demo_app
    chat_client_gui.run_demo(app, chat_client_gui.parse_args(["--demo"]))
    pump_until(app.root, lambda: len(app.windows) == 3, what="bob's and carol's windows after alice's")
    assert [w.session.config.nick for w in app.windows] == ["alice", "bob", "carol"]
    pump_until(app.root, lambda: all(w.book.current == "#general" for w in app.windows),
               what="all three windows to show #general")
    lefts = [w.top.winfo_x() for w in app.windows]
    assert lefts == sorted(lefts) and len(set(lefts)) == 3, f"windows not side by side: {lefts}"
    type_and_send(app.windows[0], "hello from alice")
    try:
        pump_until(app.root, lambda: all("hello from alice" in view_text(w) for w in app.windows))
    except AssertionError:
        shown = {w.session.nick: (w.book.current, view_text(w)[-300:]) for w in app.windows}
        raise AssertionError(f"not in every window: {shown}; alice's input: {app.windows[0].input.value!r}")
    assert app.windows[1].session.members("#general").get("alice") == "@", "alice joined first: the operator"
    server = app.demo_server
    for window in list(app.windows):
        window.close()
    pump_until(app.root, lambda: app.finished, what="the demo to finish")
    assert server.poll() is not None, "the demo server must stop with the last window"


def last_line_shown(window: ChatWindow) -> bool:
    """Whether the last line of the view is on screen, whole."""
    text = window.view.text
    info = text.dlineinfo("end-1c linestart -1c")
    return info is not None and info[1] + info[3] <= text.winfo_height()


def test_view_keeps_following_new_lines_after_an_announcement(server_process, open_window, tk_root):
    """The banner takes room from the view after the view judged whether it was at the bottom: the view
    must go on showing the newest line (a teacher would miss the lines under the fold)."""
    process = server_process("--oper", "teacher:secret", "--flood-rate", "0")
    alice = open_window(process.address, "alice")
    teacher = IRCTestClient(process.address).register("teacher")
    teacher.send("OPER teacher secret")
    teacher.expect_numeric("381")
    teacher.join("#general")
    for index in range(60):
        teacher.send(f"PRIVMSG #general :line {index}")
    pump_until(tk_root, lambda: "line 59" in view_text(alice) and last_line_shown(alice), what="line 59 shown")
    teacher.send("NOTICE $* :Test in 5 minutes")
    pump_until(tk_root, lambda: alice.announcement.winfo_ismapped(), what="the announcement banner")
    for index in range(3):
        teacher.send(f"PRIVMSG #general :after the banner {index}")
    pump_until(tk_root, lambda: "after the banner 2" in view_text(alice))
    pump_until(tk_root, lambda: last_line_shown(alice), timeout=3, what="the newest line to stay in view")
    assert alice.view.following

    for _ in range(3):  # the user turns the mouse wheel up to read: new lines must not pull the view down
        alice.view.text.event_generate("<Button-4>")
    assert not alice.view.following
    teacher.send("PRIVMSG #general :while reading")
    pump_until(tk_root, lambda: "while reading" in view_text(alice))
    assert not last_line_shown(alice)


def test_offline_text_says_not_connected_and_is_typed_over(server_process, open_window, tk_root):
    process = server_process()
    address = process.address
    assert process.stop() == 0
    alice = open_window(address, "alice", channel=None)
    pump_until(tk_root, lambda: alice.banner.shown, what="the failed connection")
    assert alice.banner.text.startswith(f"Could not connect to 127.0.0.1:{address[1]}: ")
    press(alice, "<KeyPress-h>")
    press(alice, "<KeyPress-i>")
    press(alice, "<Return>")
    assert "Not connected: the message was not sent." in view_text(alice)
    assert "Join a channel first" not in view_text(alice)
    assert alice.input.value == "hi", "unsent text stays in the line"
    for key in ("slash", "j"):  # the next command replaces it instead of running on from its end
        press(alice, f"<KeyPress-{key}>")
    assert alice.input.value == "/j"
    press(alice, "<Up>")
    assert alice.input.value == "hi", "the unsent text is in the input history"


def test_a_join_that_fails_leaves_no_conversation(server_process, open_window, tk_root):
    process = server_process()
    teacher = IRCTestClient(process.address).register("teacher")
    teacher.join("#secret")
    teacher.send("MODE #secret +i")
    teacher.expect(r" MODE #secret \+i")
    alice = open_window(process.address, "alice")
    type_and_send(alice, "/join #bad,name")
    assert "#bad,name is not a channel name" in view_text(alice)
    assert alice.input.value == "/join #bad,name"
    type_and_send(alice, "/join #secret")
    pump_until(tk_root, lambda: "Cannot join #secret: by invitation only" in view_text(alice), what="the refusal")
    type_and_send(alice, "/join #math")
    pump_until(tk_root, lambda: alice.book.current == "#math", what="alice to be shown #math once joined")
    names = [conversation.name for conversation in alice.book]
    assert names == ["*", "#general", "#math"], f"a phantom conversation: {names}"


def test_own_private_message_is_not_unread(server_process, open_window, tk_root):
    process = server_process()
    alice = open_window(process.address, "alice")
    rawpeer = IRCTestClient(process.address).register("rawpeer")
    type_and_send(alice, "/msg rawpeer hello there")
    rawpeer.expect(r" PRIVMSG rawpeer :hello there")
    pump_until(tk_root, lambda: alice.book.find("rawpeer") is not None, what="the private conversation")
    assert alice.book.total_unread == 0, "what alice sent herself is not unread"
    rawpeer.send("PRIVMSG alice :hi alice")
    pump_until(tk_root, lambda: alice.book.total_unread == 1, what="the reply as unread")
    labels = [alice.conversation_list.listbox.get(i).strip() for i in range(alice.conversation_list.listbox.size())]
    assert "rawpeer  (1)" in labels
    assert alice.top.title() == "(1) classchat — alice"


def test_member_panel_only_in_channels(server_process, open_window, tk_root):
    process = server_process()
    alice = open_window(process.address, "alice")

    def panel_shown() -> bool:
        tk_root.update_idletasks()
        return str(alice.member_list) in [str(pane) for pane in alice.panes.panes()]

    assert panel_shown()
    width = alice.member_list.winfo_width()
    alice.open_conversation("bob")
    assert not panel_shown(), "a private chat has no member list"
    alice.open_conversation("*")
    assert not panel_shown(), "nor has the server's tab"
    alice.open_conversation("#general")
    assert panel_shown()
    pump_until(tk_root, lambda: alice.member_list.winfo_width() == width, what="the member list's old width")


def test_long_topic_ends_with_an_ellipsis_after_a_word(server_process, open_window, tk_root):
    process = server_process()
    alice = open_window(process.address, "alice")
    topic = "Lesson 4: sockets, threads and the IRC protocol, " + "with many more words " * 8 + "END"
    type_and_send(alice, f"/topic {topic}")
    pump_until(tk_root, lambda: alice.topic.full_text.endswith("END"), what="the topic in the header")
    pump_until(tk_root, lambda: alice.topic.cget("text").endswith("…"), what="the elided header")
    shown = alice.topic.cget("text")
    assert f"#general  {topic}".startswith(shown[:-1]) and shown[-2] != " "
    assert f"#general  {topic}"[len(shown) - 1] == " ", f"cut inside a word: {shown!r}"
    room = alice.topic.winfo_width() - 16
    assert int(tk_root.tk.call("font", "measure", alice.topic.font, shown)) <= room


def test_elide_keeps_whole_words():
    from common.gui.widgets import elide

    measure = len  # one pixel a character
    assert elide("short", 10, measure) == "short"
    assert elide("one two three", 9, measure) == "one two…"
    assert elide("unbreakable", 5, measure) == "unbr…"


def test_long_links_wrap_after_a_slash_and_open_whole(server_process, open_window, tk_root):
    from common.gui.widgets import link_pieces

    assert link_pieces("https://docs.python.org/3/library/socket.html?highlight=socket#module") == [
        "https://docs.python.org/", "3/", "library/", "socket.html?", "highlight=", "socket#", "module"]
    assert link_pieces("https://python.org") == ["https://python.org"]
    process = server_process()
    alice = open_window(process.address, "alice")
    alice.top.geometry("600x400")  # a text some 300 pixels wide: the link takes two lines
    url = "https://docs.python.org/3/library/socketserver.html"
    other = IRCTestClient(process.address).register("other")
    other.join("#general")
    other.send(f"PRIVMSG #general :Docs: {url}")
    pump_until(tk_root, lambda: "socketserver" in view_text(alice))
    text = alice.view.text
    tk_root.update_idletasks()
    start, end = text.tag_ranges("link")[:2]
    lines = []  # the display lines the link is drawn on
    index = text.index(f"{start} linestart")
    while text.compare(index, "<", end):
        following = text.index(f"{index} +1 display lines")
        if text.compare(following, ">", start):
            lines.append(text.get(index, following))
        index = following
    assert len(lines) > 1 and all(line.endswith(" ") for line in lines[:-1]), f"a link cut inside a word: {lines}"
    assert alice.view.link_at(text.index(f"{end} -2c")) == url
    text.tag_add("sel", start, end)
    assert alice.view.selected_text() == url
    assert tk_root.selection_get() == url, "a middle-click paste gets the link as written"


def test_members_of_a_channel_get_different_nick_colours(server_process, open_window, tk_root):
    from common.gui.theme import NickColours, preferred_colour_index

    assert preferred_colour_index("alice", 12) == preferred_colour_index("bob", 12), "the case this is about"
    colours = NickColours(12)
    colours.assign(["alice", "bob", "carol"])
    first = {nick: colours.index(nick) for nick in ("alice", "bob", "carol")}
    assert len(set(first.values())) == 3
    colours.assign(["alice", "bob", "carol", "aaron"])
    assert {nick: colours.index(nick) for nick in first} == first, "a newcomer takes no one's colour"
    assert colours.index("ALICE") == first["alice"]

    process = server_process()
    alice = open_window(process.address, "alice")
    bob = IRCTestClient(process.address).register("bob")
    bob.join("#general")
    bob.send("PRIVMSG #general :hello")
    type_and_send(alice, "hi bob")
    pump_until(tk_root, lambda: "hello" in view_text(alice) and "hi bob" in view_text(alice),
               what="both lines (alice's own comes back as its echo, maybe after bob's)")
    text = alice.view.text
    assert text.tag_cget("nick:alice", "foreground") != text.tag_cget("nick:bob", "foreground")


def test_dark_theme_colours_menus_and_scroll_bars(server_process, open_window, tk_root):
    from tkinter import ttk

    process = server_process()
    alice = open_window(process.address, "alice")
    alice.apply_theme("dark")
    dark = THEMES["dark"]
    menus = [alice.menubar, alice.channel_menu, alice.member_menu]
    assert all(str(menu.cget("background")) == dark.panel and str(menu.cget("foreground")) == dark.text
               for menu in menus)
    style = ttk.Style(alice.top)
    assert style.lookup("Vertical.TScrollbar", "troughcolor") == dark.background
    assert style.lookup("Vertical.TScrollbar", "background") == dark.thumb
    alice.set_language("ru")  # a new menu bar keeps the theme
    assert str(alice.menubar.cget("background")) == dark.panel


def test_closing_leaves_the_tk_loop_running(server_process, open_window, tk_root):
    """A server that does not answer QUIT (stopped with SIGSTOP) makes Session.quit wait; the window goes
    at once and the Tk loop goes on meanwhile."""
    import signal

    process = server_process()
    alice = open_window(process.address, "alice")
    bob = open_window(process.address, "bob")
    process.proc.send_signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        alice.close()
        assert time.monotonic() - started < 0.5, "close() waited for the network"
        assert not alice.top.winfo_exists(), "the window stays on screen while it quits"
        ticks = []
        tk_root.after(50, lambda: ticks.append(alice.quitting))
        pump_until(tk_root, lambda: ticks, timeout=2, what="a Tk tick while the session quits")
        assert ticks == [True], "the quit was over before the tick: the test proves nothing"
        type_and_send(bob, "still here")
        assert bob.input.value == "", "the other window works meanwhile"
    finally:
        process.proc.send_signal(signal.SIGCONT)
    pump_until(tk_root, lambda: alice.closed, timeout=15, what="alice's window to be destroyed")
