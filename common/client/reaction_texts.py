"""What the clients say about deleted messages and reactions, in English and Russian: the lines of the
events, the placeholder of a deleted message, the words of the classroom's three reactions, the menu
items and slash commands, and the FAIL replies of REDACT and of a refused reaction.

``texts.CATALOGUE`` takes these in, so ``texts.tr`` knows every key here; the functions below word whole
lines from them. Pure data and pure functions.

The three reactions a student gives, and what the teacher reads under a message:
👍 understood (поняли), ✅ done (сделали), ❓ lost (не поняли): "👍 12 understood · ❓ 3 lost".
"""
from __future__ import annotations

from common.client import events as ev
from common.client.bilingual import Entry, worded

REACTION_LABELS = {"👍": "reaction_understood", "✅": "reaction_done", "❓": "reaction_lost"}
# What the user may type after /react instead of an emoji (a terminal may not type one).
REACTION_ALIASES = {"+1": "👍", "ok": "👍", "understood": "👍", "yes": "👍", "done": "✅", "finished": "✅",
                    "?": "❓", "lost": "❓", "help": "❓"}

REACTION_TEXTS: dict[str, Entry] = {
    "reaction_understood": {"en": "understood", "ru": "поняли"},
    "reaction_done": {"en": "done", "ru": "сделали"},
    "reaction_lost": {"en": "lost", "ru": "не поняли"},
    "reaction_count": {"en": "{emoji} {count} {label}", "ru": "{emoji} {count} {label}"},
    "reactions_summary": {"en": "Reactions to {sender}'s “{excerpt}”: {counts}",
                          "ru": "Реакции на «{excerpt}» ({sender}): {counts}"},
    "reactions_summary_unknown": {"en": "Reactions to a message: {counts}", "ru": "Реакции на сообщение: {counts}"},
    "reactions_none": {"en": "none left", "ru": "не осталось"},
    "deleted_message": {"en": "{nick} deleted a message{reason}", "ru": "{nick} удалил(а) сообщение{reason}"},
    "deleted_message_of": {"en": "{nick} deleted a message from {sender}{reason}",
                           "ru": "{nick} удалил(а) сообщение от {sender}{reason}"},
    "deleted_by_teacher": {"en": "message deleted by the teacher", "ru": "сообщение удалено учителем"},
    "deleted_by": {"en": "message deleted by {nick}", "ru": "сообщение удалил(а) {nick}"},
    "menu_delete": {"en": "Delete", "ru": "Удалить"},
    "menu_react": {"en": "{emoji}  {label}", "ru": "{emoji}  {label}"},
    "menu_unreact": {"en": "{emoji}  {label}  (take back)", "ru": "{emoji}  {label}  (отменить)"},
    "help_delete": {"en": "delete your last message here (the teacher: /delete nick, their last one)",
                    "ru": "удалить своё последнее сообщение здесь (учитель: /delete ник — последнее сообщение ника)"},
    "help_react": {"en": "react to the last message here: 👍 (ok), ✅ (done) or ❓ (lost); again takes it back",
                   "ru": "отреагировать на последнее сообщение здесь: 👍 (ok), ✅ (done) или ❓ (lost); "
                         "повторно — отменить"},
    "deleting_not_offered": {"en": "This server does not offer deleting messages.",
                             "ru": "Этот сервер не умеет удалять сообщения."},
    "reactions_not_offered": {"en": "This server does not pass reactions on.",
                              "ru": "Этот сервер не передаёт реакции."},
    "nothing_to_delete": {"en": "There is no message of yours here to delete.",
                          "ru": "Здесь нет вашего сообщения, которое можно удалить."},
    "nothing_to_react_to": {"en": "There is no message here to react to yet.",
                            "ru": "Здесь пока нет сообщения, на которое можно отреагировать."},
    "unknown_reaction": {"en": "Which reaction? 👍 (ok), ✅ (done) or ❓ (lost).",
                         "ru": "Какая реакция? 👍 (ok), ✅ (done) или ❓ (lost)."},
}


# FAIL replies of REDACT and of a refused reaction (IRCv3 standard replies), by command and code: this
# module's part of ``texts.FAIL_TEXTS``; {0}, {1}, {2} are the context parameters (target, msgid, seconds).
FAIL_TEXTS: dict[tuple[str, str], Entry] = {
    ("REDACT", "REDACT_FORBIDDEN"): {"en": "You may not delete that message: only its sender, for a few minutes, "
                                           "and the teacher may.",
                                     "ru": "Это сообщение удалить нельзя: удалить его может только автор (в "
                                           "первые минуты) и учитель."},
    ("REDACT", "REDACT_WINDOW_EXPIRED"): {"en": "Too late to delete that message: you may delete your own for "
                                                "{2} s after sending it.",
                                          "ru": "Удалять поздно: своё сообщение можно удалить в течение {2} с "
                                                "после отправки."},
    ("REDACT", "UNKNOWN_MSGID"): {"en": "That message is not there any more.", "ru": "Этого сообщения уже нет."},
    ("REDACT", "INVALID_TARGET"): {"en": "You cannot delete messages in {0}.",
                                   "ru": "Вы не можете удалять сообщения в {0}."},
    ("REDACT", "INTERNAL_ERROR"): {"en": "The server could not delete the message; try again.",
                                   "ru": "Сервер не смог удалить сообщение; попробуйте ещё раз."},
    ("TAGMSG", "INVALID_TAG"): {"en": "The reaction was not sent: the server did not accept it.",
                                "ru": "Реакция не отправлена: сервер её не принял."},
}


def text(key: str, lang: str, **values: object) -> str:
    return worded(REACTION_TEXTS[key], lang, **values)


def counts_text(counts: list[tuple[str, int]], lang: str, separator: str = ", ") -> str:
    """"👍 12 understood, ❓ 3 lost": each reaction with its count, and its word for the classroom's three."""
    if not counts:
        return text("reactions_none", lang)
    parts = []
    for emoji, count in counts:
        label = text(REACTION_LABELS[emoji], lang) if emoji in REACTION_LABELS else ""
        parts.append(text("reaction_count", lang, emoji=emoji, count=count, label=label).rstrip())
    return separator.join(parts)


def deleted_text(event: ev.MessageDeleted, lang: str) -> str:
    """"masha deleted a message", "teacher deleted a message from masha (off topic)"."""
    reason = f" ({event.reason})" if event.reason else ""
    if event.sender is None or event.sender == event.by:
        return text("deleted_message", lang, nick=event.by, reason=reason)
    return text("deleted_message_of", lang, nick=event.by, sender=event.sender, reason=reason)


def placeholder_text(by: str, sender: str | None, by_teacher: bool, lang: str) -> str:
    """What stands where a deleted message stood: by the teacher (someone else than its sender who has the
    teacher's place in the channel), else by whoever deleted it."""
    if by_teacher and by != sender:
        return text("deleted_by_teacher", lang)
    return text("deleted_by", lang, nick=by)
