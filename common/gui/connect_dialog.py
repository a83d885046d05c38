"""The connect dialog: where to connect, as whom, and with which account.

It asks, validates (``settings.validate_connect_form``, which tests without Tk) and hands a
``SessionConfig`` to ``on_connect``; it saves nothing: the window remembers the values once the connection
succeeds. The passwords, the server's and the account's, go only into that config, in memory. The same
dialog comes back from a window (a failed login, "Connect again…", "Connect to another server…") filled
in from where that window connected, with the reason it came back shown above its buttons.
"""
from __future__ import annotations

import tkinter as tk
from tkinter import ttk
from typing import Callable

from common.client.session import SessionConfig
from common.client.texts import tr
from common.gui.settings import Settings, session_config, validate_connect_form
from common.protocol.tls import normalize_fingerprint

SECRET_FIELDS = ("account_password", "password")
# (field, label) in the order shown; the "Create an account" check box follows the account's password.
FIELDS = (("host", "connect_server"), ("port", "connect_port"), ("nick", "connect_nick"),
          ("account", "connect_account"), ("account_password", "connect_account_password"),
          ("channel", "connect_channel"), ("password", "connect_password"), ("tls_pin", "connect_tls_pin"))


def check_button(master: tk.Misc, text: str, selected: bool) -> ttk.Checkbutton:
    """A ttk check box without a tkinter Variable (read with ``instate(["selected"])``)."""
    button = ttk.Checkbutton(master, text=text)
    button.state(["!alternate", "selected" if selected else "!selected"])
    return button


class ConnectDialog:
    """Asks where to connect; calls ``on_connect(config)`` or ``on_cancel()``. ``initial`` fills it in;
    ``message`` (why the dialog is back, e.g. a refused login) shows under the fields."""

    def __init__(self, top: tk.Toplevel | tk.Tk, initial: Settings, lang: str,
                 on_connect: Callable[[SessionConfig], None], on_cancel: Callable[[], None],
                 message: str = "") -> None:
        self.top = top
        self.initial = initial
        self.lang = lang
        self.on_connect = on_connect
        self.on_cancel = on_cancel
        top.title(tr("connect_title", lang))
        top.resizable(False, False)
        frame = ttk.Frame(top, padding=16)
        frame.pack(fill="both", expand=True)
        # Plain entries read with get(): no tkinter Variable, whose __del__ would call Tcl from any thread.
        values = {"host": initial.host, "port": str(initial.port), "nick": initial.nick, "account": initial.account,
                  "account_password": "", "channel": initial.channel, "password": "", "tls_pin": initial.tls_pin}
        self.entries: dict[str, ttk.Entry] = {}
        row = 0
        for name, key in FIELDS:
            ttk.Label(frame, text=tr(key, lang)).grid(row=row, column=0, sticky="w", pady=3, padx=(0, 10))
            entry = ttk.Entry(frame, width=28, show="•" if name in SECRET_FIELDS else "")
            entry.insert(0, values[name])
            entry.grid(row=row, column=1, sticky="ew", pady=3)
            self.entries[name] = entry
            row += 1
            if name == "account_password":
                self.create_account = check_button(frame, tr("connect_create_account", lang), False)
                self.create_account.grid(row=row, column=1, sticky="w", pady=(0, 6))
                row += 1
        self.tls = check_button(frame, tr("connect_tls", lang), initial.tls)
        self.tls.grid(row=row, column=1, sticky="w", pady=3)
        self.problems = ttk.Label(frame, foreground="#b3261e", wraplength=360, justify="left", text=message)
        self.problems.grid(row=row + 1, column=0, columnspan=2, sticky="w")
        buttons = ttk.Frame(frame)
        buttons.grid(row=row + 2, column=0, columnspan=2, sticky="e", pady=(10, 0))
        ttk.Button(buttons, text=tr("cancel_button", lang), command=self.cancel).pack(side="right")
        self.connect_button = ttk.Button(buttons, text=tr("connect_button", lang), command=self.submit)
        self.connect_button.pack(side="right", padx=(0, 6))
        top.bind("<Return>", lambda _e: self.submit())
        top.bind("<Escape>", lambda _e: self.cancel())
        top.protocol("WM_DELETE_WINDOW", self.cancel)
        first_empty = "nick" if not initial.nick else "account_password" if initial.account else "host"
        self.entries[first_empty].focus_set()

    def values(self) -> dict[str, str]:
        return {name: entry.get() for name, entry in self.entries.items()}

    def set_value(self, name: str, value: str) -> None:
        self.entries[name].delete(0, "end")
        self.entries[name].insert(0, value)

    def config(self) -> SessionConfig | None:
        """The connection the dialog describes, or None after showing what is wrong with it."""
        values = self.values()
        creating = self.create_account.instate(["selected"])
        problems = validate_connect_form(values, creating, self.lang)
        if problems:
            self.problems.configure(text="\n".join(problems))
            return None
        pin = values["tls_pin"].strip()
        nick = values["nick"].strip()
        chosen = Settings(host=values["host"].strip(), port=int(values["port"]), nick=nick,
                          channel=values["channel"].strip(), tls=self.tls.instate(["selected"]),
                          tls_pin=normalize_fingerprint(pin) if pin else "",
                          account=values["account"].strip() or (nick if creating else ""))
        return session_config(chosen, nick, values["password"] or None, values["account_password"] or None,
                              create_account=creating)

    def submit(self) -> None:
        config = self.config()
        if config is not None:
            self.top.destroy()
            self.on_connect(config)

    def cancel(self) -> None:
        self.top.destroy()
        self.on_cancel()
