"""What a user types, for both clients: plain text goes to the current conversation, ``/commands`` run.

``SLASH_COMMANDS`` is the one table: it dispatches, and ``/help`` is written from it, so the help can
never drift from what the commands do. Running a command only talks to the ``Session``; what the view
should do next (show lines, switch conversation, quit) comes back as a ``CommandResult``.

The table also knows which words of a line are a password (``SlashCommand.secret_from``):
``is_secret_command`` and ``mask_secrets`` keep them out of an input history, ``needs_secret`` tells a
view to ask for one that was left out (the CLI asks with getpass, so that it never shows on the screen).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Callable

from common.client.classroom import read_poll_command
from common.client.raw_lines import SECRET_PARAMS, SERVICE_VERBS
from common.client.reaction_texts import REACTION_ALIASES
from common.client.session import Session
from common.client.texts import tr
from common.protocol.casemap import is_channel_name, is_valid_channel
from common.protocol.multiline import is_multiline
from common.protocol.params import parse_date
from common.protocol.reactions import is_valid_reaction


@dataclass
class CommandResult:
    output: list[str] = field(default_factory=list)
    switch_to: str | None = None
    close: str | None = None
    quit: bool = False
    sent: bool = True


@dataclass(frozen=True)
class Invocation:
    """One typed command: the session, where the user is, and the words after the command name."""

    session: Session
    current: str | None
    rest: str
    lang: str

    @property
    def args(self) -> list[str]:
        return self.rest.split()

    def channel_or_current(self) -> tuple[str | None, list[str]]:
        """A leading ``#channel`` argument, else the current conversation if it is a channel."""
        args = self.args
        if args and is_channel_name(args[0]):
            return args[0], args[1:]
        return (self.current if self.current and is_channel_name(self.current) else None), args

    def text_after(self, words: int) -> str:
        """The rest of the line after the first ``words`` words, spacing kept."""
        rest = self.rest.lstrip(" ")
        for _ in range(words):
            rest = rest.partition(" ")[2].lstrip(" ")
        return rest


@dataclass(frozen=True)
class SlashCommand:
    usage: str
    min_args: int
    run: Callable[[Invocation], CommandResult]
    secret_from: int | None = None  # the words from this one on (after the command name) are a password


def sent(ok: bool, inv: Invocation, **result: object) -> CommandResult:
    if ok:
        return CommandResult(**result)
    return CommandResult(output=[tr("not_connected", inv.lang)], sent=False)


def cmd_join(inv: Invocation) -> CommandResult:
    channel = inv.args[0]
    if not is_channel_name(channel):
        channel = "#" + channel
    if not is_valid_channel(channel, 200):  # a comma would make it a list: JOIN #bad,name joins two
        return CommandResult(output=[tr("bad_channel", inv.lang, name=channel)], sent=False)
    return sent(inv.session.join(channel, inv.args[1] if len(inv.args) > 1 else None), inv, switch_to=channel)


def cmd_part(inv: Invocation) -> CommandResult:
    channel, _ = inv.channel_or_current()
    if channel is None:
        return CommandResult(output=[usage_of("part", inv.lang)])
    reason = inv.text_after(1) if inv.args and inv.args[0] == channel else inv.rest.strip()
    return sent(inv.session.part(channel, reason), inv, close=channel)


def cmd_msg(inv: Invocation) -> CommandResult:
    target, text = inv.args[0], inv.text_after(1)
    if not text:
        return CommandResult(output=[usage_of("msg", inv.lang)])
    return sent(inv.session.send_text(target, text), inv)


def cmd_query(inv: Invocation) -> CommandResult:
    target = inv.args[0]
    text = inv.text_after(1)
    if text and not inv.session.send_text(target, text):
        return CommandResult(output=[tr("not_connected", inv.lang)], sent=False)
    return CommandResult(switch_to=target)


def cmd_me(inv: Invocation) -> CommandResult:
    if not inv.current:
        return CommandResult(output=[tr("no_target", inv.lang)])
    return sent(inv.session.send_text(inv.current, inv.rest.strip(), kind="action"), inv)


def cmd_nick(inv: Invocation) -> CommandResult:
    return sent(inv.session.set_nick(inv.args[0]), inv)


def cmd_topic(inv: Invocation) -> CommandResult:
    channel, words = inv.channel_or_current()
    if channel is None:
        return CommandResult(output=[usage_of("topic", inv.lang)])
    if not words:
        return sent(inv.session.command("TOPIC", channel), inv)
    text = inv.text_after(1) if inv.args[0] == channel else inv.rest.strip()
    return sent(inv.session.command("TOPIC", channel, text), inv)


def cmd_names(inv: Invocation) -> CommandResult:
    channel, _ = inv.channel_or_current()
    if channel is None:
        return CommandResult(output=[usage_of("names", inv.lang)])
    return sent(inv.session.names(channel), inv)


def cmd_list(inv: Invocation) -> CommandResult:
    return sent(inv.session.command("LIST", *inv.args[:1]), inv)


def cmd_whois(inv: Invocation) -> CommandResult:
    return sent(inv.session.command("WHOIS", inv.args[0]), inv)


def cmd_away(inv: Invocation) -> CommandResult:
    return sent(inv.session.set_away(inv.rest.strip() or None), inv)


def cmd_invite(inv: Invocation) -> CommandResult:
    channel = inv.args[1] if len(inv.args) > 1 else inv.current
    if not channel or not is_channel_name(channel):
        return CommandResult(output=[usage_of("invite", inv.lang)])
    return sent(inv.session.command("INVITE", inv.args[0], channel), inv)


def cmd_kick(inv: Invocation) -> CommandResult:
    channel, words = inv.channel_or_current()
    if channel is None or not words:
        return CommandResult(output=[usage_of("kick", inv.lang)])
    skip = 2 if inv.args[0] == channel else 1
    reason = inv.text_after(skip)
    params = [channel, words[0], reason] if reason else [channel, words[0]]
    return sent(inv.session.command("KICK", *params), inv)


def cmd_mode(inv: Invocation) -> CommandResult:
    args = inv.args
    if not args or args[0].startswith(("+", "-")):
        if not inv.current:
            return CommandResult(output=[usage_of("mode", inv.lang)])
        args = [inv.current, *args]
    return sent(inv.session.command("MODE", *args), inv)


def member_mode(sign_letter: str) -> Callable[[Invocation], CommandResult]:
    """/op, /deop, /voice, /mute, /ban …: one MODE line for all the nicks given, in the current channel.
    For the list modes (+q mute, +b ban) the server completes a bare nick to ``nick!*@*``."""

    def run(inv: Invocation) -> CommandResult:
        channel, nicks = inv.channel_or_current()
        if channel is None or not nicks:
            return CommandResult(output=[tr("no_target", inv.lang)])
        sign, letter = sign_letter
        return sent(inv.session.command("MODE", channel, sign + letter * len(nicks), *nicks), inv)

    return run


def cmd_oper(inv: Invocation) -> CommandResult:
    return sent(inv.session.command("OPER", inv.args[0], inv.text_after(1)), inv)


def cmd_register(inv: Invocation) -> CommandResult:
    """Create an account named after the current nick (IRCv3 REGISTER); the server logs us in to it."""
    return sent(inv.session.command("REGISTER", "*", "*", inv.rest.strip()), inv)


def cmd_startlesson(inv: Invocation) -> CommandResult:
    message = inv.rest.strip()
    return sent(inv.session.command("STARTLESSON", *([message] if message else [])), inv)


def cmd_classchannel(inv: Invocation) -> CommandResult:
    """Make the current channel a class channel (+C), or, with "off", an ordinary one; teachers only."""
    channel, words = inv.channel_or_current()
    if channel is None:
        return CommandResult(output=[tr("no_target", inv.lang)])
    off = bool(words) and words[0].lower() in ("off", "no", "-")
    return sent(inv.session.command("MODE", channel, "-C" if off else "+C"), inv)


def cmd_announce(inv: Invocation) -> CommandResult:
    """A notice to everyone on the server ($* matches any server name); for the teacher (an operator)."""
    return sent(inv.session.command("NOTICE", "$*", inv.rest.strip()), inv)


def cmd_endlesson(inv: Invocation) -> CommandResult:
    message = inv.rest.strip()
    return sent(inv.session.command("ENDLESSON", *([message] if message else [])), inv)


def cmd_attendance(inv: Invocation) -> CommandResult:
    """Ask for a class channel's attendance, from a day when one is given (checked here, before asking)."""
    channel, words = inv.channel_or_current()
    if channel is None:
        return CommandResult(output=[tr("no_target", inv.lang)])
    since = words[0] if words else None
    if since is not None and parse_date(since) is None:
        return CommandResult(output=[tr("attendance_bad_date", inv.lang)], sent=False)
    return sent(inv.session.request_attendance(channel, since), inv)


def cmd_kill(inv: Invocation) -> CommandResult:
    reason = inv.text_after(1)
    return sent(inv.session.command("KILL", inv.args[0], *([reason] if reason else [])), inv)


def cmd_delete(inv: Invocation) -> CommandResult:
    """Delete our latest message in the current conversation, or (a channel's teacher or operator) the
    latest of ``nick`` there (IRCv3 REDACT); the server decides whether it may still be deleted."""
    reactions = inv.session.reactions
    if not inv.current:
        return CommandResult(output=[tr("no_target", inv.lang)], sent=False)
    if not reactions.offers_deleting():
        return CommandResult(output=[tr("deleting_not_offered", inv.lang)], sent=False)
    msgid = reactions.last(inv.current, own=True, nick=inv.args[0] if inv.args else None)
    if msgid is None:
        return CommandResult(output=[tr("nothing_to_delete", inv.lang)], sent=False)
    return sent(reactions.delete(inv.current, msgid), inv)


def cmd_react(inv: Invocation) -> CommandResult:
    """React to the latest message from someone else here (or from ``nick``); the same again takes it back."""
    reactions = inv.session.reactions
    emoji = REACTION_ALIASES.get(inv.args[0].lower(), inv.args[0])
    if not inv.current:
        return CommandResult(output=[tr("no_target", inv.lang)], sent=False)
    if not reactions.offers_reactions():
        return CommandResult(output=[tr("reactions_not_offered", inv.lang)], sent=False)
    if not is_valid_reaction(emoji):
        return CommandResult(output=[tr("unknown_reaction", inv.lang)], sent=False)
    nick = inv.args[1] if len(inv.args) > 1 else None
    msgid = reactions.last(inv.current, own=False, nick=nick)
    if msgid is None:
        return CommandResult(output=[tr("nothing_to_react_to", inv.lang)], sent=False)
    return sent(reactions.toggle(inv.current, msgid, emoji), inv)


def classroom_command(handler: Callable[[Invocation, str, list[str]], CommandResult]
                      ) -> Callable[[Invocation], CommandResult]:
    """A hand or poll command: ``handler(inv, channel, words)`` gets the channel it is about (a leading
    ``#channel``, else the current one) and the words after it. When there is no channel, or the server
    has no hands and polls, the user is told so instead."""
    @functools.wraps(handler)
    def run(inv: Invocation) -> CommandResult:
        if not inv.session.has_classroom:
            return CommandResult(output=[tr("classroom_missing", inv.lang)], sent=False)
        channel, words = inv.channel_or_current()
        if channel is None:
            return CommandResult(output=[tr("no_target", inv.lang)], sent=False)
        return handler(inv, channel, words)
    return run


@classroom_command
def cmd_hand(inv: Invocation, channel: str, words: list[str]) -> CommandResult:
    """/hand (up), /hand down, /hand list; for teachers /hand clear and /hand lower NICK."""
    verb = (words[0] if words else "up").upper()
    if verb == "LIST" and len(words) == 1:
        return sent(inv.session.list_hands(channel), inv)
    if verb in ("UP", "DOWN", "CLEAR") and len(words) <= 1:
        return sent(inv.session.command("HAND", channel, verb), inv)
    if verb in ("LOWER", "CALL") and len(words) == 2:
        return sent(inv.session.command("HAND", channel, verb, words[1]), inv)
    return CommandResult(output=[usage_of("hand", inv.lang)], sent=False)


@classroom_command
def cmd_call(inv: Invocation, channel: str, words: list[str]) -> CommandResult:
    if len(words) != 1:
        return CommandResult(output=[usage_of("call", inv.lang)], sent=False)
    return sent(inv.session.command("HAND", channel, "CALL", words[0]), inv)


@classroom_command
def cmd_vote(inv: Invocation, channel: str, words: list[str]) -> CommandResult:
    """/vote N: the number goes to the server as typed (it checks it), with the number of the poll we saw,
    so that a vote meant for a poll that has just closed never lands in the next one."""
    if len(words) != 1:
        return CommandResult(output=[usage_of("vote", inv.lang)], sent=False)
    poll = inv.session.classroom(channel).poll
    number = [str(poll.number)] if poll is not None and not poll.closed else []
    return sent(inv.session.command("VOTE", channel, words[0], *number), inv)


@classroom_command
def cmd_poll(inv: Invocation, channel: str, words: list[str]) -> CommandResult:
    """/poll [named] [SECONDS] question | option | option…; /poll alone shows the open poll again."""
    if not words:
        return sent(inv.session.command("POLL", channel), inv)
    text = inv.text_after(1) if inv.args[0] == channel else inv.rest.strip()
    request = read_poll_command(text)
    if isinstance(request, str):
        return CommandResult(output=[tr(request, inv.lang), usage_of("poll", inv.lang)], sent=False)
    return sent(inv.session.command("POLL", *request.params(channel)), inv)


@classroom_command
def cmd_endpoll(inv: Invocation, channel: str, words: list[str]) -> CommandResult:
    return sent(inv.session.command("POLL", channel, "CLOSE"), inv)


def cmd_quote(inv: Invocation) -> CommandResult:
    return sent(inv.session.send_raw(inv.rest.strip()), inv)


def cmd_quit(inv: Invocation) -> CommandResult:
    return CommandResult(quit=True, output=[])


def cmd_code(inv: Invocation) -> CommandResult:
    """``/code text`` sends the text; ``/code`` alone says how to send a block (the CLI reads one itself)."""
    text = inv.rest.strip()
    if not text:
        return CommandResult(output=[tr("code_hint", inv.lang)], sent=False)
    if not inv.current:
        return CommandResult(output=[tr("no_target", inv.lang)], sent=False)
    return sent(inv.session.send_text(inv.current, text), inv)


def cmd_help(inv: Invocation) -> CommandResult:
    return CommandResult(output=help_lines(inv.lang))


SLASH_COMMANDS: dict[str, SlashCommand] = {
    "join": SlashCommand("#channel [key]", 1, cmd_join),
    "part": SlashCommand("[#channel] [reason]", 0, cmd_part),
    "msg": SlashCommand("nick|#channel text", 2, cmd_msg),
    "query": SlashCommand("nick [text]", 1, cmd_query),
    "me": SlashCommand("action", 1, cmd_me),
    "code": SlashCommand("[text]", 0, cmd_code),
    "nick": SlashCommand("new_nick", 1, cmd_nick),
    "topic": SlashCommand("[#channel] [new topic]", 0, cmd_topic),
    "names": SlashCommand("[#channel]", 0, cmd_names),
    "list": SlashCommand("[#channel]", 0, cmd_list),
    "whois": SlashCommand("nick", 1, cmd_whois),
    "away": SlashCommand("[message]", 0, cmd_away),
    "invite": SlashCommand("nick [#channel]", 1, cmd_invite),
    "kick": SlashCommand("[#channel] nick [reason]", 1, cmd_kick),
    "mode": SlashCommand("[target] [+modes [arguments]]", 0, cmd_mode),
    "op": SlashCommand("nick [nick…]", 1, member_mode("+o")),
    "deop": SlashCommand("nick [nick…]", 1, member_mode("-o")),
    "voice": SlashCommand("nick [nick…]", 1, member_mode("+v")),
    "devoice": SlashCommand("nick [nick…]", 1, member_mode("-v")),
    "mute": SlashCommand("nick [nick…]", 1, member_mode("+q")),
    "unmute": SlashCommand("nick [nick…]", 1, member_mode("-q")),
    "ban": SlashCommand("nick|mask [nick…]", 1, member_mode("+b")),
    "unban": SlashCommand("nick|mask [nick…]", 1, member_mode("-b")),
    "oper": SlashCommand("name password", 2, cmd_oper, secret_from=1),
    "register": SlashCommand("password", 1, cmd_register, secret_from=0),
    "announce": SlashCommand("text", 1, cmd_announce),
    "endlesson": SlashCommand("[message]", 0, cmd_endlesson),
    "startlesson": SlashCommand("[message]", 0, cmd_startlesson),
    "classchannel": SlashCommand("[#channel] [off]", 0, cmd_classchannel),
    "attendance": SlashCommand("[#channel] [YYYY-MM-DD]", 0, cmd_attendance),
    "kill": SlashCommand("nick [reason]", 1, cmd_kill),
    "hand": SlashCommand("[down|list]", 0, cmd_hand),
    "vote": SlashCommand("N", 1, cmd_vote),
    "call": SlashCommand("nick", 1, cmd_call),
    "poll": SlashCommand("[named] [secs] question|a|b…", 0, cmd_poll),
    "endpoll": SlashCommand("", 0, cmd_endpoll),
    "react": SlashCommand("👍|✅|❓ [nick]", 1, cmd_react),
    "delete": SlashCommand("[nick]", 0, cmd_delete),
    "quote": SlashCommand("RAW IRC LINE", 1, cmd_quote),
    "quit": SlashCommand("[message]", 0, cmd_quit),
    "help": SlashCommand("", 0, cmd_help),
}


# Raw lines (/quote) that carry a password: the words before it, the command's name included. The same
# table masks the lines themselves in the protocol pane and --raw (raw_lines.py), as do the services' verbs.
_SECRET_RAW_COMMANDS = {command: first + 1 for command, first in SECRET_PARAMS.items()}


def _secret_words_before(line: str) -> int | None:
    """How many words of a typed line come before its password (the command name counts), or None when
    the line is not one that carries a password."""
    if not line.startswith("/") or line.startswith("//"):
        return None
    words = line[1:].split()
    if not words:
        return None
    name = words[0].lower()
    command = SLASH_COMMANDS.get(name)
    if command is not None and command.secret_from is not None:
        return 1 + command.secret_from
    if name in ("register", "identify", "pass"):  # commands a later version may add, and other clients' habits
        return 1
    if name == "quote" and len(words) > 1 and words[1].upper() in _SECRET_RAW_COMMANDS:
        return 1 + _SECRET_RAW_COMMANDS[words[1].upper()]
    if name in ("msg", "query") and len(words) > 2 and words[1].lower().endswith("serv") \
            and words[2].upper() in SERVICE_VERBS:
        return 3
    return None


def is_secret_command(line: str) -> bool:
    """Whether a typed line carries a password (/oper, /quote PASS, /msg NickServ IDENTIFY, …), even when
    the password is still missing: such a line stays out of an input history (the CLI's readline, the GUI's
    Up key)."""
    return _secret_words_before(line) is not None


def needs_secret(line: str) -> bool:
    """A line that should carry a password and does not yet ("/oper teacher"): a view asks for it without
    echoing it, and appends it."""
    before = _secret_words_before(line)
    return before is not None and len(line[1:].split()) == before


def mask_secrets(line: str) -> str:
    """The line with its password replaced by ``********`` (for a history or a log), else the line itself."""
    before = _secret_words_before(line)
    if before is None:
        return line
    words = line.split(" ")
    kept, seen = [], 0
    for word in words:
        if seen >= before and word:
            kept.append("********")
            break
        kept.append(word)
        seen += bool(word)
    return " ".join(kept)


def usage_of(name: str, lang: str) -> str:
    return tr("usage", lang, name=name, args=SLASH_COMMANDS[name].usage)


def help_lines(lang: str) -> list[str]:
    rows = [(f"  /{name} {command.usage}".rstrip(), tr(f"help_{name}", lang)) for name, command in SLASH_COMMANDS.items()]
    width = max(len(usage) for usage, _ in rows) + 2
    return [tr("help_title", lang)] + [usage.ljust(width) + text for usage, text in rows]


def run_input(line: str, session: Session, current: str | None, lang: str) -> CommandResult:
    """Handle one line the user typed in the conversation ``current`` (a channel, a nick, or None). A text
    of several lines (a paste) is a message whatever it starts with: code may begin with ``/*`` or ``//``."""
    several_lines = is_multiline(line)
    if several_lines or not line.startswith("/") or line.startswith("//"):
        text = line[1:] if line.startswith("//") and not several_lines else line
        if not text.strip():
            return CommandResult(sent=False)
        if not current:
            return CommandResult(output=[tr("no_target" if session.is_registered else "not_connected", lang)],
                                 sent=False)
        return sent(session.send_text(current, text), Invocation(session, current, text, lang))
    name, _, rest = line[1:].partition(" ")
    command = SLASH_COMMANDS.get(name.lower())
    if command is None:
        return CommandResult(output=[tr("unknown_command", lang, name=name)], sent=False)
    invocation = Invocation(session, current, rest, lang)
    if len(invocation.args) < command.min_args:
        return CommandResult(output=[usage_of(name.lower(), lang)], sent=False)
    return command.run(invocation)
