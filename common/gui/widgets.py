"""The GUI's widgets. Each is a small class that takes a ``master`` and draws what it is given; none of
them knows about IRC or the session. They signal the window through virtual events
(``<<ConversationSelected>>``, ``<<MemberOpen>>``, ``<<MemberMenu>>``, ``<<MessageMenu>>``,
``<<InputSubmitted>>``).
Only the Tk main thread calls them.
"""
from __future__ import annotations

import re
import tkinter as tk
import webbrowser
from tkinter import filedialog, ttk
from typing import Callable, Iterable

from common.gui.code_blocks import CodeBlocks, line_count, send_pasted_lines
from common.gui.message_marks import MESSAGE_KINDS, MessageMarks
from common.gui.model import SCROLLBACK_LINES, SERVER_TAB, Conversation, DisplayLine, split_links
from common.gui.theme import NickColours, Palette

APP_NAME = "classchat"
MEMBER_RANK = {"!": 0, "@": 1, "+": 2}
TEACHER_MARK = "★"  # in the member list, for a member with the teacher's prefix "!" (in DejaVu Sans)
MUTED_MARK = "✕"  # after a muted member's nick: two characters, so the narrow list does not cut it off
ELLIPSIS = "…"
# Where a long link may wrap: after a '/', '?', '&', '#' or '=' of its path (Tk's word wrap breaks only at
# spaces, so a link longer than the line was cut anywhere, "…/library/s" + "ocket.html").
LINK_BREAK = re.compile(r"(?<=[/?&#=])(?=[^/?&#=])")
WRAP_POINT = "wrap-point"  # the tag of the one-pixel spaces put at those places


def link_pieces(url: str) -> list[str]:
    """A link cut where it may wrap; the scheme's "//" and the host stay whole."""
    scheme, separator, rest = url.rpartition("://") if "://" in url else ("", "", url)
    host, slash, path = rest.partition("/")
    return [f"{scheme}{separator}{host}{slash}", *(piece for piece in LINK_BREAK.split(path) if piece)]


def elide(text: str, room: int, measure: Callable[[str], int]) -> str:
    """As much of ``text`` as fits in ``room`` pixels: whole words and "…" when it is too long (a
    first word that alone is too long is cut between characters)."""
    if measure(text) <= room:
        return text
    words = text.split(" ")

    def longest(count: int, prefix: Callable[[int], str]) -> int:
        low, high = 0, count  # the longest prefix that fits, by bisection: measuring is a Tk call
        while low < high:
            middle = (low + high + 1) // 2
            if measure(prefix(middle).rstrip() + ELLIPSIS) <= room:
                low = middle
            else:
                high = middle - 1
        return low

    kept = longest(len(words), lambda count: " ".join(words[:count]))
    if kept:
        return " ".join(words[:kept]).rstrip() + ELLIPSIS
    return text[:longest(len(text), lambda count: text[:count])].rstrip() + ELLIPSIS


class AppToplevel(tk.Toplevel):
    """A top-level window whose WM_CLASS is ("classchat", "Classchat"), like the Tk root's
    (``Tk(className="classchat")``), so that a taskbar groups classchat's windows under one program.

    Tk takes the WM_CLASS instance name from the last part of the window's path, which siblings cannot
    share: each window is therefore the child of a frame of its own, never shown, destroyed with it.
    """

    def __init__(self, root: tk.Misc) -> None:
        self.holder = tk.Frame(root)
        super().__init__(self.holder, name=APP_NAME, class_=APP_NAME.capitalize())

    def destroy(self) -> None:
        super().destroy()
        self.holder.destroy()


class NamedFont:
    """A Tk named font that the window deletes itself, on the Tk thread, when it closes.

    ``tkinter.font.Font`` deletes its font in ``__del__``; if a closed window waits in a reference cycle,
    Python's collector may run that ``__del__`` in the session's thread, and Tcl aborts the process when
    called from a thread that is not its own. This class has no ``__del__``.
    """

    _count = 0

    def __init__(self, master: tk.Misc, family: str, size: int, weight: str = "normal") -> None:
        NamedFont._count += 1
        self.name = f"classchat-font-{NamedFont._count}"
        self._tk = master.tk
        self._tk.call("font", "create", self.name, "-family", family, "-size", size, "-weight", weight)

    def __str__(self) -> str:
        return self.name

    @property
    def size(self) -> int:
        return int(self._tk.call("font", "configure", self.name, "-size"))

    def set_size(self, size: int) -> None:
        self._tk.call("font", "configure", self.name, "-size", size)

    def delete(self) -> None:
        self._tk.call("font", "delete", self.name)


def tk_safe(text: str) -> str:
    """Characters outside the Basic Multilingual Plane as U+FFFD, for Tk builds that refuse them."""
    return "".join(char if ord(char) <= 0xFFFF else "\ufffd" for char in text)


def ask_save_path(parent: tk.Misc, initialfile: str) -> str:
    """The CSV file to save to (empty when the user cancels): Tk's own "Save as…" dialog."""
    return filedialog.asksaveasfilename(parent=parent, initialfile=initialfile, defaultextension=".csv",
                                        filetypes=[("CSV", "*.csv"), ("*", "*")])


class TitledList(ttk.Frame):
    """A heading over a plain list: the shape both side panels share."""

    def __init__(self, master: tk.Misc, font: str, width: int) -> None:
        super().__init__(master)
        self.title = ttk.Label(self, anchor="w", font=font)  # in the window's font, to shrink with it
        self.title.pack(fill="x", padx=6, pady=(6, 2))
        self.listbox = tk.Listbox(self, activestyle="none", exportselection=False, font=font, borderwidth=0,
                                  highlightthickness=0, width=width)
        self.listbox.pack(fill="both", expand=True)

    def apply_palette(self, palette: Palette) -> None:
        self.listbox.configure(background=palette.panel, foreground=palette.text,
                               selectbackground=palette.selection, selectforeground=palette.text)

    def set_width(self, characters: int) -> None:
        """How wide the list asks to be, in average characters of its font."""
        self.listbox.configure(width=characters)


class ConversationList(TitledList):
    """The channels and private chats, with unread counts; mentions and private messages stand out."""

    def __init__(self, master: tk.Misc, font: str) -> None:
        super().__init__(master, font, width=13)
        self.names: list[str] = []
        self.listbox.bind("<<ListboxSelect>>", lambda _e: self.event_generate("<<ConversationSelected>>"))

    @property
    def selected(self) -> str | None:
        selection = self.listbox.curselection()
        return self.names[selection[0]] if selection else None

    def show(self, conversations: Iterable[Conversation], current: str, server_label: str, palette: Palette) -> None:
        self.listbox.delete(0, "end")
        self.names = []
        for index, conversation in enumerate(conversations):
            label = server_label if conversation.name == SERVER_TAB else conversation.name
            if conversation.unread:
                label += f"  ({conversation.unread})"
            self.listbox.insert("end", " " + tk_safe(label))
            self.names.append(conversation.name)
            if conversation.mentioned:
                self.listbox.itemconfigure(index, foreground=palette.error)
            elif conversation.unread:
                self.listbox.itemconfigure(index, foreground=palette.unread)
            if conversation.name == current:
                self.listbox.selection_set(index)


class MessageView(ttk.Frame):
    """The lines of one conversation: times, coloured nicks, quieter system lines, clickable links.

    The view follows new lines while ``following``: that changes only when the user scrolls (wheel,
    keys, scroll bar, dragging a selection), judged after the scroll, and never when the layout moves
    the text, as a banner showing up above it does; a resize while following shows the end again.
    """

    def __init__(self, master: tk.Misc, font: str, bold_font: str, nick_colours: NickColours,
                 mono_font: str = "TkFixedFont") -> None:
        super().__init__(master)
        self.text = tk.Text(self, wrap="word", state="disabled", font=font, borderwidth=0, highlightthickness=0,
                            padx=8, pady=6, cursor="arrow", spacing1=2, width=24, height=10)
        self.scrollbar = ttk.Scrollbar(self, command=self._scroll_bar_moved)
        self.text.configure(yscrollcommand=self._on_scroll)
        scrollbar = self.scrollbar
        scrollbar.pack(side="right", fill="y")
        self.text.pack(side="left", fill="both", expand=True)
        self.bold_font = bold_font
        self.code_blocks = CodeBlocks(self.text, font, mono_font)  # code_blocks.py: blocks, `code`, Copy buttons
        self.nick_colours = nick_colours
        self.palette: Palette | None = None
        self.following = True
        self._nick_tags: set[str] = set()
        self.teacher_label = "teacher"  # the words of the teacher's badge and of a question's note: set_labels()
        self.question_label = "only the teacher sees this"
        self.text.tag_configure(WRAP_POINT, font=(self.tk.call("font", "actual", font, "-family"), -1))
        self.text.tag_bind("link", "<Button-1>", self._open_link)
        self.text.tag_bind("link", "<Enter>", lambda _e: self.text.configure(cursor="hand2"))
        self.text.tag_bind("link", "<Leave>", lambda _e: self.text.configure(cursor="arrow"))
        # A tag of ours after the Text class's, so these run once the class binding has scrolled.
        user_scroll = f"user-scroll{self.text}"  # a bind tag; one that begins with "." would name a window
        tags = list(self.text.bindtags())
        self.text.bindtags((*tags[:tags.index("Text") + 1], user_scroll, *tags[tags.index("Text") + 1:]))
        for sequence in ("<MouseWheel>", "<Button-4>", "<Button-5>", "<Key>", "<B1-Motion>", "<ButtonRelease-1>"):
            self.text.bind_class(user_scroll, sequence, lambda _e: self._user_scrolled())
        self.text.bind("<Configure>", lambda _e: self._follow())
        self.text.bind("<<Copy>>", self._copy)
        self.marks = MessageMarks(self.text)  # msgid → its text, for changes in place (message_marks.py)
        self.clicked_msgid: str | None = None
        self.text.bind("<Button-3>", self._on_right_click)
        for target in ("STRING", "UTF8_STRING"):
            self.text.selection_handle(self._export_selection, type=target)

    def _on_scroll(self, first: str, last: str) -> None:
        """Keep the scrollbar in step; at the very top of a scrollable view, ask for older messages."""
        self.scrollbar.set(first, last)
        if float(first) <= 0.0 and float(last) < 1.0:
            self.event_generate("<<ReachedTop>>", when="tail")

    def _scroll_bar_moved(self, *how: str) -> None:
        self.text.yview(*how)
        self._user_scrolled()

    def _user_scrolled(self) -> None:
        self.following = self.text.yview()[1] >= 0.999

    def _follow(self) -> None:
        if self.following:
            self.text.see("end")

    def set_labels(self, teacher: str, question: str) -> None:
        """The words of the teacher's badge and of the note on a question, in the user's language; for the
        lines drawn from now on."""
        self.teacher_label, self.question_label = teacher, question

    def text_lines(self, lines: Iterable[DisplayLine]) -> int:
        """How many lines of the Text these lines take: a message with a code block takes several, and a
        message with reactions one more for them."""
        return sum(line_count(line.text) + self.marks.reaction_lines(line.msgid) if line.kind in MESSAGE_KINDS
                   else 1 for line in lines)

    def keep_position_after_prepend(self, added_lines: int) -> None:
        """After older lines went in above, show the line the user was looking at, not the new top."""
        self.text.see(f"{added_lines + 1}.0")
        self.text.yview(f"{added_lines}.0")
        self.following = False

    def apply_palette(self, palette: Palette) -> None:
        self.palette = palette
        text = self.text
        text.configure(background=palette.background, foreground=palette.text, selectbackground=palette.selection,
                       insertbackground=palette.text)
        text.tag_configure("time", foreground=palette.muted)
        text.tag_configure("system", foreground=palette.muted)
        text.tag_configure("error", foreground=palette.error)
        text.tag_configure("own", background=palette.own_background)
        text.tag_configure("mention", background=palette.mention_background)
        text.tag_configure("link", foreground=palette.link, underline=True)
        text.tag_configure("divider", foreground=palette.muted, justify="center")
        text.tag_configure("badge", background=palette.teacher, foreground=palette.teacher_text)
        text.tag_configure("note", foreground=palette.muted)
        text.tag_configure("reactions", foreground=palette.muted, lmargin1=24, lmargin2=24, spacing1=0)
        text.tag_configure("reaction-mine", foreground=palette.link)
        for tag in self._nick_tags:
            text.tag_configure(tag, foreground=self.nick_colours.colour(tag[5:], palette))
        self.code_blocks.apply_palette(palette)
        text.tag_raise("link")

    def show(self, lines: Iterable[DisplayLine]) -> None:
        self.text.configure(state="normal")
        self.text.delete("1.0", "end")
        self.text.configure(state="disabled")
        self.marks.clear()
        self.code_blocks.forget_deleted()
        self.following = True
        self.append(list(lines))

    def append(self, lines: list[DisplayLine]) -> None:
        """Add lines in one insert; keep following the end if the view was; cap the scrollback."""
        if not lines:
            return
        segments: list[str | tuple[str, ...]] = []
        for line in lines:
            line_segments = self._segments(line)
            segments.extend(line_segments)
            segments.extend(self.marks.segments_for(line.msgid, line.kind, line_segments))
        first_line = int(self.text.index("end-1c").split(".")[0])
        self.text.configure(state="normal")
        try:
            self.text.insert("end", *segments)
        except tk.TclError:
            safe = [tk_safe(item) if isinstance(item, str) else item for item in segments]
            self.text.insert("end", *safe)
        self.marks.place(first_line)
        self.code_blocks.place_buttons()
        excess = int(self.text.index("end-1c").split(".")[0]) - SCROLLBACK_LINES
        if excess > 0:
            self.text.delete("1.0", f"{excess + 1}.0")
            self.marks.forget_cut()
            self.code_blocks.forget_deleted()
        self.text.configure(state="disabled")
        self._follow()

    def replace_message(self, msgid: str, line: DisplayLine) -> bool:
        """Draw ``line`` where the message ``msgid`` (and its reactions) stood; False if it is not shown.
        A code block's Copy button goes with the message."""
        replaced = self.marks.replace(msgid, self._segments(line))
        self.code_blocks.forget_deleted()
        return replaced

    def _on_right_click(self, event: tk.Event) -> None:
        """A right click on a message signals ``<<MessageMenu>>`` (``clicked_msgid``, ``click_position``)."""
        self.clicked_msgid = self.marks.msgid_at(self.text.index(f"@{event.x},{event.y}"))
        if self.clicked_msgid is not None:
            self.click_position = (event.x_root, event.y_root)
            self.event_generate("<<MessageMenu>>")

    def _segments(self, line: DisplayLine) -> list[str | tuple[str, ...]]:
        base: tuple[str, ...] = ("own",) if line.own else ("mention",) if line.mention else ()
        parts: list[str | tuple[str, ...]] = []
        if line.kind == "divider":
            return [f"{line.text}\n", ("divider",)]
        if line.time is not None:
            parts += [line.time.astimezone().strftime("%H:%M "), ("time", *base)]
        if line.kind in ("system", "error"):
            return [*parts, f"— {line.text}\n", (line.kind, *base)]
        nick_tag = self._nick_tag(line.nick)
        badge = [" ", base, f" {TEACHER_MARK} {self.teacher_label} ", ("badge", *base)] if line.teacher else []
        if line.kind == "action":
            parts += ["* ", base, line.nick, (nick_tag, *base), *badge, " ", base]
        elif line.kind == "notice":
            parts += ["-", base, line.nick, (nick_tag, *base), "-", base, *badge, " ", base]
        else:
            parts += [line.nick, (nick_tag, *base), *badge, ": ", base]
        note = [f"  ({self.question_label})", ("note", *base)] if line.question else []
        return parts + self.code_blocks.segments(line.text, base, self._text_segments, note)

    def _text_segments(self, text: str, base: tuple[str, ...]) -> list[str | tuple[str, ...]]:
        """Plain text of a message, its links clickable."""
        parts: list[str | tuple[str, ...]] = []
        for piece, is_link in split_links(text):
            if not is_link:
                parts += [piece, base]
                continue
            for index, run in enumerate(link_pieces(piece)):
                parts += [" ", ("link", WRAP_POINT, *base)] if index else []
                parts += [run, ("link", *base)]
        return parts

    def _nick_tag(self, nick: str) -> str:
        tag = f"nick:{nick}"
        if tag not in self._nick_tags:
            self._nick_tags.add(tag)
            colour = self.nick_colours.colour(nick, self.palette) if self.palette else None
            self.text.tag_configure(tag, foreground=colour, font=self.bold_font)
        return tag

    def link_at(self, index: str) -> str:
        """The address of the link at a text index, as written (a URL has no spaces: the wrap points go)."""
        start, end = self.text.tag_prevrange("link", f"{index}+1c")
        return self.text.get(start, end).replace(" ", "")

    def _open_link(self, event: tk.Event) -> None:
        url = self.link_at(self.text.index(f"@{event.x},{event.y}"))
        webbrowser.open(url if "://" in url else f"https://{url}")

    def selected_text(self) -> str:
        """The selected text as it was written, without the wrap points in links."""
        ranges = self.text.tag_ranges("sel")
        if not ranges:
            return ""
        position, end = ranges[0], ranges[-1]
        pieces = []
        while found := self.text.tag_nextrange(WRAP_POINT, position, end):
            pieces.append(self.text.get(position, found[0]))
            position = found[1]
        pieces.append(self.text.get(position, end))
        return "".join(pieces)

    def _export_selection(self, offset: str, length: str) -> str:
        """The X selection (a middle-click paste elsewhere) is ``selected_text()``, in the parts asked for."""
        return self.selected_text()[int(offset):int(offset) + int(length)]

    def _copy(self, _event: tk.Event) -> str:
        if self.text.tag_ranges("sel"):
            self.clipboard_clear()
            self.clipboard_append(self.selected_text())
        return "break"


class MemberList(TitledList):
    """Who is in the channel, the teacher first (★, the prefix ``!``), then operators (@) and voiced (+);
    double- and right-click signal. A line under the list says what the star means when a teacher is in."""

    def __init__(self, master: tk.Misc, font: str) -> None:
        super().__init__(master, font, width=12)
        self.nicks: list[str] = []
        self.clicked: str | None = None
        self.click_position = (0, 0)
        self.palette: Palette | None = None
        self.legend = ttk.Label(self, anchor="w", font=font)
        self.listbox.bind("<Double-Button-1>", lambda e: self._signal(e, "<<MemberOpen>>"))
        self.listbox.bind("<Button-3>", lambda e: self._signal(e, "<<MemberMenu>>"))

    def apply_palette(self, palette: Palette) -> None:
        super().apply_palette(palette)
        self.palette = palette
        self.legend.configure(foreground=palette.teacher)

    def show(self, members: dict[str, str], title: str, muted: frozenset[str] = frozenset(),
             muted_mark: str = "", teacher_legend: str = "") -> None:
        """The members, each with its highest prefix (the teacher's as ★, in the teacher's colour);
        ``MUTED_MARK`` after those in ``muted`` (+q); under the list, what the marks mean (``teacher_legend``,
        ``muted_mark``) when such a member is in."""
        self.title.configure(text=title)
        ordered = sorted(members.items(), key=lambda item: (MEMBER_RANK.get(item[1][:1], 3), item[0].lower()))
        self.listbox.delete(0, "end")
        self.nicks = [nick for nick, _ in ordered]
        teachers = any_muted = False
        for index, (nick, prefix) in enumerate(ordered):
            mark = f" {MUTED_MARK}" if nick in muted else ""
            any_muted = any_muted or bool(mark)
            symbol = TEACHER_MARK if prefix.startswith("!") else prefix[:1] or " "
            self.listbox.insert("end", f" {symbol}{tk_safe(nick)}{mark}")
            if self.palette is None:
                continue
            if prefix.startswith("!"):
                teachers = True
                self.listbox.itemconfigure(index, foreground=self.palette.teacher)
            elif mark:
                self.listbox.itemconfigure(index, foreground=self.palette.muted)
        legends = [f"{TEACHER_MARK} {teacher_legend}"] if teachers and teacher_legend else []
        legends += [f"{MUTED_MARK} {muted_mark}"] if any_muted and muted_mark else []
        if legends:
            self.legend.configure(text="\n".join(legends))
            self.legend.pack(side="bottom", fill="x", padx=6, pady=(2, 4), before=self.listbox)
        else:
            self.legend.pack_forget()

    def _signal(self, event: tk.Event, virtual: str) -> None:
        index = self.listbox.nearest(event.y)
        if 0 <= index < len(self.nicks):
            self.listbox.selection_clear(0, "end")
            self.listbox.selection_set(index)
            self.clicked = self.nicks[index]
            self.click_position = (event.x_root, event.y_root)
            self.event_generate(virtual)


class InputLine(ttk.Frame):
    """Where the user types: Enter sends, Up/Down walk the history, Tab completes nicks.

    A line that ``is_secret`` judges to carry a password ("/oper name password") never enters the history,
    and while the line is one, the whole entry shows bullets: Tk's Entry masks all of its text or none,
    and the command word at the start, which the user has just typed, is the least worth reading.
    """

    def __init__(self, master: tk.Misc, font: str, completions: Callable[[], list[str]],
                 is_secret: Callable[[str], bool] = lambda _text: False) -> None:
        super().__init__(master)
        self.entry = tk.Entry(self, font=font, borderwidth=1, relief="solid", highlightthickness=0, width=10)
        self.is_secret = is_secret
        # "key" validation runs before every insert and delete, typed or not, with the text to be (%P).
        self.entry.configure(validate="key", validatecommand=(self.register(self._mask_if_secret), "%P"))
        self.button = ttk.Button(self, width=0, padding=(10, 2),
                                 command=lambda: self.event_generate("<<InputSubmitted>>"))
        self.button.pack(side="right", padx=(6, 0))
        self.entry.pack(side="left", fill="x", expand=True, ipady=4)
        self.history: list[str] = []
        self._history_index = 0
        self._completions = completions
        self._cycle: list[str] = []
        self._cycle_index = 0
        self._cycle_start = 0
        self.entry.bind("<Return>", lambda _e: self.event_generate("<<InputSubmitted>>"))
        self.entry.bind("<KP_Enter>", lambda _e: self.event_generate("<<InputSubmitted>>"))
        self.entry.bind("<Up>", lambda _e: self._walk_history(-1))
        self.entry.bind("<Down>", lambda _e: self._walk_history(1))
        self.entry.bind("<Tab>", self._complete)
        self.entry.bind("<Key>", self._reset_cycle, add="+")
        send_pasted_lines(self.entry, lambda: self.event_generate("<<InputSubmitted>>"))  # one message

    @property
    def value(self) -> str:
        return self.entry.get()

    def sent(self) -> None:
        """The text went out: remember it and clear the line."""
        self._remember()
        self.entry.delete(0, "end")

    def keep(self) -> None:
        """The text was not sent: it stays, selected, so that what is typed next replaces it instead of
        running on from its end ("hello/join #math"); Up brings it back from the history."""
        self._remember()
        self.entry.selection_range(0, "end")
        self.entry.icursor("end")

    @property
    def masked(self) -> bool:
        return bool(self.entry.cget("show"))

    def _mask_if_secret(self, text: str) -> bool:
        """The validation command: mask the entry while its text is a secret line; never refuses an edit."""
        show = "•" if self.is_secret(text) else ""
        if self.entry.cget("show") != show:
            self.entry.configure(show=show)
        return True

    def _remember(self) -> None:
        text = self.entry.get()
        if text and not self.is_secret(text) and (not self.history or self.history[-1] != text):
            self.history.append(text)
        self._history_index = len(self.history)

    def apply_palette(self, palette: Palette) -> None:
        self.entry.configure(background=palette.background, foreground=palette.text,
                             insertbackground=palette.text, selectbackground=palette.selection)

    def _walk_history(self, step: int) -> str:
        if self.history:
            self._history_index = max(0, min(len(self.history), self._history_index + step))
            self.entry.delete(0, "end")
            if self._history_index < len(self.history):
                self.entry.insert(0, self.history[self._history_index])
        return "break"

    def _reset_cycle(self, event: tk.Event) -> None:
        if event.keysym not in ("Tab", "Shift_L", "Shift_R"):
            self._cycle = []

    def _complete(self, _event: tk.Event) -> str:
        """Complete the word before the cursor to a member's nick; Tab again cycles through matches."""
        text, cursor = self.entry.get(), self.entry.index("insert")
        if not self._cycle:
            start = text.rfind(" ", 0, cursor) + 1
            word = text[start:cursor].lower()
            if not word:
                return "break"
            self._cycle = sorted(nick for nick in self._completions() if nick.lower().startswith(word))
            self._cycle_index, self._cycle_start = 0, start
            if not self._cycle:
                return "break"
        else:
            self._cycle_index = (self._cycle_index + 1) % len(self._cycle)
        nick = self._cycle[self._cycle_index]
        suffix = ": " if self._cycle_start == 0 else " "
        self.entry.delete(self._cycle_start, cursor)
        self.entry.insert(self._cycle_start, nick + suffix)
        return "break"


class ElidedLabel(ttk.Label):
    """One line of text that never widens the window: what does not fit ends in "…" after a whole word."""

    def __init__(self, master: tk.Misc, font: str, padding: tuple[int, int]) -> None:
        super().__init__(master, anchor="w", padding=padding, font=font, width=1)  # width 1: asks for no room
        self.font = font
        self.full_text = ""
        self._padding = padding[0] * 2
        self.bind("<Configure>", lambda _e: self._fit())

    def set_text(self, text: str) -> None:
        if text != self.full_text:
            self.full_text = text
            self._fit()

    def _fit(self) -> None:
        width = self.winfo_width()
        if width <= 1:  # not laid out yet: the first <Configure> fits it
            self.configure(text=self.full_text)
            return
        self.configure(text=elide(self.full_text, width - self._padding, self._measure))

    def _measure(self, text: str) -> int:
        return int(self.tk.call("font", "measure", self.font, text))


class Banner(tk.Frame):
    """A coloured strip for what the user must notice (a lost connection, the teacher's announcement),
    with an optional button at its end ("Connect again…"); hidden when empty. ``kind`` names its colours
    in the palette ("banner" or "announce"). A click on its text signals ``<<BannerClicked>>``."""

    def __init__(self, master: tk.Misc, before: tk.Misc, kind: str = "banner") -> None:
        super().__init__(master)
        self.label = tk.Label(self, anchor="w", justify="left", padx=10, pady=6)
        self.button = tk.Button(self, relief="flat", borderwidth=0, padx=10, pady=2, highlightthickness=0)
        self.label.pack(side="left", fill="x", expand=True)
        for widget in (self, self.label):
            widget.bind("<Button-1>", lambda _e: self.event_generate("<<BannerClicked>>"))
        self._before = before
        self._kind = kind
        self.shown = False

    @property
    def text(self) -> str:
        return self.label.cget("text")

    def show(self, text: str, palette: Palette, action: tuple[str, Callable[[], None]] | None = None) -> None:
        """Show ``text``, and a button that runs ``action`` = (label, command) when one is given."""
        self.label.configure(text=text)
        if action is None:
            self.button.pack_forget()
        else:
            self.button.configure(text=action[0], command=action[1])
            self.button.pack(side="right", padx=8, pady=4)
        self.recolour(palette)
        if not self.shown:
            self.pack(fill="x", before=self._before)
            self.shown = True

    def recolour(self, palette: Palette) -> None:
        background, text = getattr(palette, self._kind), getattr(palette, f"{self._kind}_text")
        self.configure(background=background)
        self.label.configure(background=background, foreground=text)
        self.button.configure(background=text, foreground=background, activebackground=text,
                              activeforeground=background)

    def fit(self, width: int) -> None:
        room = width - 24 - (self.button.winfo_reqwidth() + 16 if self.button.winfo_ismapped() else 0)
        self.label.configure(wraplength=max(200, room))

    def hide(self) -> None:
        if self.shown:
            self.pack_forget()
            self.shown = False
