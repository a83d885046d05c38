#!/usr/bin/env python3
"""Take docs/code_blocks.png: two real windows in Russian side by side on a virtual 1366x768 screen, with a
server of their own, where the teacher pastes a Python snippet (through the clipboard, as a person does), a
third student asks about it from a plain IRC connection, and the student in the other window copies it.

    python3 docs/code_blocks_screenshot.py

Needs Debian's xvfb (the screen) and imagemagick (its ``import`` takes the picture), like docs/screenshot.py.
"""
from __future__ import annotations

import sys

from shots import Screen, submit

CHANNEL = "#информатика"
SNIPPET = '''def факториал(n):
    """Произведение чисел от 1 до n."""
    результат = 1
    for i in range(1, n + 1):
        результат *= i
    return результат

print(факториал(5))  # 120'''
TEACHER, STUDENT, THIRD = "Петрова", "Маша", "Дима"
LESSON = [  # (who, text): who is a window (0 the teacher, 1 the student) or THIRD; None: the teacher pastes
    (0, "/topic Урок 7: функции и циклы в Python"),
    (0, "Вот пример к заданию 3, скопируйте его кнопкой:"),
    (0, None),
    (THIRD, "А зачем `n + 1` в `range`?"),
    (0, "Дима: правый конец в `range` не входит, поэтому пишем `n + 1`."),
    (1, "Понятно, спасибо! Запускаю."),
]


def main() -> int:
    with Screen("code_blocks_screenshot.py") as screen:
        import chat_client_gui
        from common.gui.settings import Settings, session_config
        from helpers import IRCTestClient

        app = chat_client_gui.Application(Settings(host="127.0.0.1", channel=CHANNEL), "ru")
        screen.root = app.root
        third = None
        try:
            app.demo_server, app.settings.port = chat_client_gui.start_demo_server()
            tiles = chat_client_gui.tile_side_by_side(2, app.root.winfo_screenwidth(), app.root.winfo_screenheight())
            teacher = app.open_window(session_config(app.settings, TEACHER, None), tiles[0], save=False)
            screen.wait_until(lambda: teacher.session.is_joined(CHANNEL), "the teacher in the channel")
            app.open_window(session_config(app.settings, STUDENT, None), tiles[1], save=False)
            third = IRCTestClient(("127.0.0.1", app.settings.port)).register(THIRD)
            third.join(CHANNEL)
            screen.wait_until(lambda: all(w.book.current == CHANNEL and len(w.member_list.nicks) == 3
                                          for w in app.windows), f"everyone in {CHANNEL}")
            for who, text in LESSON:
                if text is None:  # the teacher pastes the snippet: Ctrl+V sends a paste of several lines at once
                    app.root.clipboard_clear()
                    app.root.clipboard_append(SNIPPET)
                    teacher.input.entry.event_generate("<<Paste>>")
                    shown = "for i in range"
                elif who == THIRD:
                    third.send(f"PRIVMSG {CHANNEL} :{text}")
                    shown = text.replace("`", "")[:12]
                else:
                    submit(app.windows[who], text)
                    shown = (text.split(" ", 1)[1] if text.startswith("/") else text).replace("`", "")[:12]
                screen.wait_until(lambda: all(shown in w.view.text.get("1.0", "end") for w in app.windows),
                                  repr(shown))
            student = app.windows[1]
            screen.wait_until(lambda: student.view.code_blocks.buttons, "the Copy button in the student's window")
            student.view.code_blocks.buttons[0].invoke()  # the student copies the code
            screen.snap("code_blocks.png")
        finally:
            if third is not None:
                third.close()
            app.close_all()
            screen.wait_until(lambda: app.finished, "the windows to close")
    return 0


if __name__ == "__main__":
    sys.exit(main())
