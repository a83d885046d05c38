"""The protocol pane (View → Show the protocol) in real windows under Xvfb, against the real server process."""
from __future__ import annotations

import re
import tkinter as tk

from common.client.raw_lines import RECEIVED, SENT, RawLineLog
from common.gui.protocol_pane import KEPT_LINES, KIND_COLOURS, TRIM_CHUNK, ProtocolPane
from common.gui.settings import Settings
from common.gui.theme import THEMES
from common.gui.window import ChatWindow
from common.client.session import SessionConfig
from helpers import IRCTestClient
from test_gui import open_window, pump_until, type_and_send  # noqa: F401  (open_window is a fixture)


def menu_entry(window: ChatWindow, cascade: str, label: str) -> tuple[tk.Menu, int]:
    """The menu of the menu bar's ``cascade`` and the index of its entry ``label``."""
    bar = window.menubar
    cascade_index = next(i for i in range(bar.index("end") + 1)
                         if bar.type(i) == "cascade" and bar.entrycget(i, "label") == cascade)
    menu = bar.nametowidget(bar.entrycget(cascade_index, "menu"))
    index = next(i for i in range(menu.index("end") + 1)
                 if menu.type(i) in ("command", "checkbutton") and menu.entrycget(i, "label") == label)
    return menu, index


def pane_line(window: ChatWindow, pattern: str) -> str:
    """The text index of the first pane line that matches the regex ``pattern`` (searched in its text)."""
    index = window.protocol.text.search(pattern, "1.0", regexp=True)
    assert index, f"no /{pattern}/ in the pane:\n" + "\n".join(window.protocol.lines()[-30:])
    return index


def tags_of_text(window: ChatWindow, pattern: str) -> set[str]:
    """The tags on the text (after time and arrow) of the line matching ``pattern``."""
    line = pane_line(window, pattern).split(".")[0]
    return set(window.protocol.text.tag_names(f"{line}.16"))


def has_line(window: ChatWindow, pattern: str) -> bool:
    return any(re.search(pattern, line) for line in window.protocol.lines())


def test_the_pane_opened_from_the_view_menu_shows_what_a_message_sends_and_what_comes_back(
        server_process, open_window, tk_root):
    process = server_process("--password", "s3cret-server")
    alice = open_window(process.address, "alice", password="s3cret-server")
    bob = IRCTestClient(process.address).register("bob", password="s3cret-server")
    bob.join("#general")
    assert not alice.protocol.shown and not alice.protocol.winfo_ismapped()
    menu, index = menu_entry(alice, "View", "Show the protocol")
    menu.invoke(index)
    pump_until(tk_root, lambda: alice.protocol.winfo_ismapped(), what="the pane to show")
    assert alice.protocol.shown and alice.protocol.menu_ticked() and alice.settings.show_protocol
    # Opened after connecting, it still starts with the registration burst.
    pump_until(tk_root, lambda: has_line(alice, r" ← :\S+ 001 alice "), what="the welcome in the pane")
    lines = alice.protocol.lines()
    assert lines[0].endswith(f"· connected to 127.0.0.1:{process.address[1]}")
    assert any(line.endswith("→ PASS ********") for line in lines)
    assert any(line.endswith("→ NICK alice") for line in lines)
    assert "numeric" in tags_of_text(alice, r" 001 alice ")

    type_and_send(alice, "hello from the window")
    sent = r"^\d\d:\d\d:\d\d\.\d{3} → PRIVMSG #general :hello from the window$"
    echo = r"^\d\d:\d\d:\d\d\.\d{3} ← \S+ :alice!\S+ PRIVMSG #general :hello from the window$"
    pump_until(tk_root, lambda: has_line(alice, echo), what="→ PRIVMSG and its echo")
    assert alice.protocol.text.compare(pane_line(alice, sent), "<", pane_line(alice, echo)), "question, then answer"
    assert {"message", "sent"} <= tags_of_text(alice, r"→ PRIVMSG #general :hello from the window")
    assert {"message", "received"} <= tags_of_text(alice, r":alice!\S+ PRIVMSG #general :hello from the window")
    bob.send("PRIVMSG #general :hi alice, bob here")
    pump_until(tk_root, lambda: has_line(alice, r"← \S+ :bob!\S+ PRIVMSG #general :hi alice, bob here$"),
               what="bob's line")
    type_and_send(alice, "/quote NOSUCHCOMMAND")
    pump_until(tk_root, lambda: has_line(alice, r"← :\S+ 421 alice NOSUCHCOMMAND "), what="the error")
    assert "error" in tags_of_text(alice, r" 421 alice NOSUCHCOMMAND ")
    text = alice.protocol.text
    assert text.tag_cget("message", "foreground") == KIND_COLOURS["light"]["message"]
    assert text.tag_cget("error", "foreground") == KIND_COLOURS["light"]["error"]
    assert text.tag_cget("sent", "background") == THEMES["light"].own_background
    assert "s3cret" not in text.get("1.0", "end")


def test_hidden_the_pane_has_no_tick_and_shows_what_came_meanwhile_when_opened_again(
        server_process, open_window, tk_root):
    process = server_process()
    alice = open_window(process.address, "alice")
    alice.show_protocol(True)
    pump_until(tk_root, lambda: has_line(alice, r"→ JOIN #general$"), what="the join")
    alice.protocol.close_button.invoke()
    pump_until(tk_root, lambda: not alice.protocol.winfo_ismapped(), what="the pane to go")
    assert not alice.protocol.shown and alice.protocol._after_id is None
    assert not alice.protocol.menu_ticked() and not alice.settings.show_protocol
    bob = IRCTestClient(process.address).register("bob")
    bob.join("#general")
    bob.send("PRIVMSG #general :while the pane was hidden")
    pump_until(tk_root, lambda: "while the pane was hidden" in alice.view.text.get("1.0", "end"))
    assert not has_line(alice, "while the pane was hidden")
    menu, index = menu_entry(alice, "View", "Show the protocol")
    menu.invoke(index)
    pump_until(tk_root, lambda: has_line(alice, r":bob!\S+ PRIVMSG #general :while the pane was hidden$"),
               what="the line recorded while hidden")
    assert sum(line.endswith("→ JOIN #general") for line in alice.protocol.lines()) == 1, "nothing drawn twice"
    alice.connect(alice.session.config)  # "Connect again…": the pane goes on with the new session's lines
    pump_until(tk_root, lambda: sum("· connected to" in line for line in alice.protocol.lines()) == 2,
               what="the second connection in the pane")
    pump_until(tk_root, lambda: sum(line.endswith("→ JOIN #general") for line in alice.protocol.lines()) == 2)
    menu.invoke(index)
    assert not alice.protocol.shown and not alice.protocol.menu_ticked() and alice.protocol._after_id is None


def test_the_pane_follows_theme_font_language_and_the_saved_setting(server_process, tk_root):
    process = server_process()
    config = SessionConfig(host=process.address[0], port=process.address[1], nick="alice", pace_rate=0,
                           channels=("#general",))
    window = ChatWindow(tk.Toplevel(tk_root), config, Settings(show_protocol=True), "en", save=False)
    try:
        window.top.geometry("1366x740")
        pump_until(tk_root, lambda: window.protocol.winfo_ismapped() and has_line(window, r"→ JOIN #general"))
        assert window.protocol.lines()[0].endswith(f"· connected to 127.0.0.1:{process.address[1]}")
        pump_until(tk_root, lambda: window.protocol.winfo_height() > 200, what="the pane's share of the height")
        window.apply_theme("dark")
        text = window.protocol.text
        assert text.tag_cget("numeric", "foreground") == KIND_COLOURS["dark"]["numeric"]
        assert text.cget("background") == THEMES["dark"].background
        size = window.protocol.font.size
        window.change_font_size(2)
        assert window.protocol.font.size == size + 2
        window.set_language("ru")
        assert window.protocol.title.cget("text") == "Протокол"
        menu_entry(window, "Вид", "Показать протокол")
    finally:
        window.close()
        pump_until(tk_root, lambda: window.closed, timeout=15, what="the window to close")


def test_the_pane_keeps_its_last_lines_and_says_how_many_it_missed(tk_root):
    """Without a server: a log that overflowed before the first tick, then a flood past KEPT_LINES."""
    log = RawLineLog(capacity=KEPT_LINES + 2000)
    for number in range(KEPT_LINES + 2100):
        log.record(RECEIVED if number % 2 else SENT, f"PRIVMSG #flood :line {number}".encode())
    paned = tk.PanedWindow(tk_root, orient="vertical")
    paned.pack(fill="both", expand=True)
    pane = ProtocolPane(paned, lambda: log, 10, "TkDefaultFont", "en")
    pane.apply_palette(THEMES["light"])
    try:
        pane.set_shown(True)
        pump_until(tk_root, lambda: pane.lines() and pane.lines()[-1].endswith(f":line {KEPT_LINES + 2099}"),
                   what="every line drawn")
        lines = pane.lines()
        assert KEPT_LINES <= len(lines) < KEPT_LINES + TRIM_CHUNK
        numbers = [int(line.rsplit(" ", 1)[1]) for line in lines if ":line " in line]
        assert numbers == list(range(numbers[0], KEPT_LINES + 2100)), "the newest lines, none lost among them"
        pane.clear()
        log.record(SENT, b"PING :after the flood")
        pump_until(tk_root, lambda: len(pane.lines()) == 1 and pane.lines()[0].endswith("→ PING :after the flood"))
    finally:
        pane.set_shown(False)
        pane.close()
        paned.destroy()


def test_lines_missed_before_a_tick_are_counted_in_the_pane(tk_root):
    log = RawLineLog(capacity=100)
    for number in range(300):
        log.record(RECEIVED, f"PING :{number}".encode())
    paned = tk.PanedWindow(tk_root, orient="vertical")
    paned.pack(fill="both", expand=True)
    pane = ProtocolPane(paned, lambda: log, 10, "TkDefaultFont", "en")
    try:
        pane.set_shown(True)
        pump_until(tk_root, lambda: len(pane.lines()) == 101)
        assert pane.lines()[0] == "… 200 lines not shown (they came too fast)"
        assert "ping" in pane.text.tag_names("2.16") and pane.lines()[1].endswith("← PING :200")
    finally:
        pane.set_shown(False)
        pane.close()
        paned.destroy()
