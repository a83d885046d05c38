"""What raised hands and polls say to a person, in English and Russian: the texts ``texts.CATALOGUE``
takes in, and how the events of ``classroom.py`` read (``describe_classroom``, which ``texts.describe``
calls). Kept apart so that the main catalogue stays readable; the keys share its one namespace.
"""
from __future__ import annotations

from typing import Callable

from common.client.bilingual import Entry
from common.client.classroom import ClassroomEvent, HandAction, HandsChanged, PollChanged, PollView

CLASSROOM_TEXTS: dict[str, Entry] = {
    "hands_none": {"en": "no hands up", "ru": "поднятых рук нет"},
    "hands_one": {"en": "1 hand up", "ru": "поднятых рук: 1"},
    "hands_many": {"en": "{count} hands up", "ru": "поднятых рук: {count}"},
    "hands_queue": {"en": "{count} in {channel}: {queue}", "ru": "{count} в {channel}: {queue}"},
    "hands_queue_empty": {"en": "No hands up in {channel}.", "ru": "В {channel} рук не поднято."},
    "hand_up": {"en": "{nick} raised a hand ({count})", "ru": "{nick} поднимает руку ({count})"},
    "hand_up_own": {"en": "You raised your hand ({count})", "ru": "Вы подняли руку ({count})"},
    "hand_down": {"en": "{nick} lowered their hand ({count})", "ru": "{nick} опускает руку ({count})"},
    "hand_down_own": {"en": "You lowered your hand ({count})", "ru": "Вы опустили руку ({count})"},
    "hand_call": {"en": "{actor} called on {nick}", "ru": "{actor} вызывает {nick}"},
    "hand_call_me": {"en": "{actor} called on you: your turn to speak",
                     "ru": "{actor} вызывает вас: ваша очередь говорить"},
    "hand_lower": {"en": "{actor} lowered {nick}'s hand ({count})", "ru": "{actor} опускает руку {nick} ({count})"},
    "hand_lower_me": {"en": "{actor} lowered your hand", "ru": "{actor} опускает вашу руку"},
    "hand_clear": {"en": "{actor} lowered every hand", "ru": "{actor} опускает все руки"},
    "poll_opened": {"en": "Poll by {nick}: {question} — {options} (answer: /vote N{closes})",
                    "ru": "Опрос от {nick}: {question} — {options} (ответ: /vote N{closes})"},
    "poll_closes": {"en": ", closes in {time}", "ru": ", закроется через {time}"},
    "poll_named_note": {"en": "the teacher sees who voted what", "ru": "учитель видит, кто как ответил"},
    "poll_ballot": {"en": "Your vote: {option}", "ru": "Ваш ответ: {option}"},
    "poll_counts": {"en": "Votes in {channel} ({total}): {counts}", "ru": "Ответы в {channel} ({total}): {counts}"},
    "poll_voter": {"en": "{nick} voted {option} ({votes})", "ru": "{nick} отвечает: {option} ({votes})"},
    "poll_bad_question": {"en": "A poll's question is 1 to 150 characters, without '|'.",
                          "ru": "Вопрос опроса — от 1 до 150 знаков, без «|»."},
    "poll_bad_options": {"en": "A poll has 2 to 6 options of 1 to 50 characters each, without '|'.",
                         "ru": "В опросе от 2 до 6 вариантов, каждый от 1 до 50 знаков, без «|»."},
    "poll_too_long": {"en": "The question and options are too long together; shorten them.",
                      "ru": "Вопрос и варианты вместе слишком длинные; сократите их."},
    "poll_bad_time": {"en": "A time limit is 5 to 3600 seconds, or 0 for none.",
                      "ru": "Ограничение времени — от 5 до 3600 секунд, или 0 — без ограничения."},
    "classroom_missing": {"en": "This server has no raised hands or polls.",
                          "ru": "На этом сервере нет поднятых рук и опросов."},
    # /help
    "help_hand": {"en": "raise your hand (down: lower it; list: who has one up)",
                  "ru": "поднять руку (down — опустить; list — у кого поднята)"},
    "help_call": {"en": "teacher: call on a student (gives voice when the channel is moderated)",
                  "ru": "учитель: вызвать ученика (даёт голос, если канал модерируется)"},
    "help_vote": {"en": "answer the open poll with the number of an option",
                  "ru": "ответить на опрос номером варианта"},
    "help_poll": {"en": "teacher: open a poll, e.g. /poll named 60 Which? | yes | no",
                  "ru": "учитель: открыть опрос, например /poll named 60 Какой? | да | нет"},
    "help_endpoll": {"en": "teacher: close the poll and post its result",
                     "ru": "учитель: закрыть опрос и показать итог"},
    # GUI
    "hand_raise_button": {"en": "✋ Raise hand", "ru": "✋ Поднять руку"},
    "hand_lower_button": {"en": "✋ Lower hand", "ru": "✋ Опустить руку"},
    "hands_title": {"en": "Raised hands", "ru": "Поднятые руки"},
    "hands_who": {"en": "Student", "ru": "Ученик"},
    "hands_up_for": {"en": "Up for", "ru": "Ждёт"},
    "hands_call_button": {"en": "Call on", "ru": "Вызвать"},
    "hands_lower_button": {"en": "Lower", "ru": "Опустить"},
    "hands_clear_button": {"en": "Lower all", "ru": "Опустить все"},
    "poll_new_button": {"en": "New poll…", "ru": "Новый опрос…"},
    "poll_close_button": {"en": "Close poll", "ru": "Закрыть опрос"},
    "poll_csv_button": {"en": "Save as CSV…", "ru": "Сохранить в CSV…"},
    "poll_hide_button": {"en": "Hide", "ru": "Скрыть"},
    "poll_dialog_title": {"en": "New poll", "ru": "Новый опрос"},
    "poll_question": {"en": "Question", "ru": "Вопрос"},
    "poll_option": {"en": "Option {number}", "ru": "Вариант {number}"},
    "poll_named": {"en": "Show me who voted what", "ru": "Показывать мне, кто как ответил"},
    "poll_seconds": {"en": "Time limit, seconds (0: none)", "ru": "Время, секунд (0 — без ограничения)"},
    "poll_open_button": {"en": "Open poll", "ru": "Открыть опрос"},
    "poll_votes": {"en": "{total} votes", "ru": "ответов: {total}"},
    "poll_votes_one": {"en": "1 vote", "ru": "ответов: 1"},
    "poll_left": {"en": "closes in {time}", "ru": "закроется через {time}"},
    "poll_closed_state": {"en": "closed", "ru": "закрыт"},
    "poll_your_vote": {"en": "your vote: {number}", "ru": "ваш ответ: {number}"},
    "poll_saved": {"en": "Saved the poll's result to {path}", "ru": "Итог опроса сохранён в {path}"},
    "poll_save_failed": {"en": "Could not save {path}: {reason}", "ru": "Не удалось сохранить {path}: {reason}"},
}

Translate = Callable[..., str]


def count_text(count: int, lang: str, tr: Translate) -> str:
    key = "hands_none" if count == 0 else "hands_one" if count == 1 else "hands_many"
    return tr(key, lang, count=count)


def votes_text(total: int, lang: str, tr: Translate) -> str:
    return tr("poll_votes_one", lang) if total == 1 else tr("poll_votes", lang, total=total)


def minutes_seconds(milliseconds: int) -> str:
    """"0:42", "12:05", "1:02:05": how long a hand has been up, or a poll has left."""
    seconds = max(0, milliseconds // 1000)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def option_text(poll: PollView, number: int) -> str:
    return f"{number}) {poll.options[number - 1]}" if 1 <= number <= len(poll.options) else str(number)


# FAIL replies of HAND, POLL and VOTE (IRCv3 standard replies), by command and code: this module's part of
# ``texts.FAIL_TEXTS``; {context} is the last context parameter. Bad polls are worded like the client's own
# checks of a poll (POLL_PROBLEM_KEYS).
FAIL_TEXTS: dict[tuple[str, str], Entry] = {
    ("HAND", "TOO_FAST"): {"en": "You raised your hand too often; wait a minute.",
                           "ru": "Вы слишком часто поднимали руку; подождите минуту."},
    ("HAND", "NOT_RAISED"): {"en": "{context} has no hand up.", "ru": "У {context} рука не поднята."},
    ("HAND", "UNKNOWN_SUBCOMMAND"): {"en": "Use /hand, /hand down or /hand list.",
                                     "ru": "Используйте /hand, /hand down или /hand list."},
    ("POLL", "ALREADY_OPEN"): {"en": "A poll is open in {context} already: close it first (/endpoll).",
                               "ru": "В {context} уже идёт опрос: сначала закройте его (/endpoll)."},
    ("POLL", "NO_POLL"): {"en": "There is no open poll in {context}.", "ru": "В {context} нет открытого опроса."},
    ("VOTE", "NO_POLL"): {"en": "There is no open poll in {context} (it may have closed).",
                          "ru": "В {context} нет открытого опроса (возможно, он уже закрыт)."},
    ("VOTE", "BAD_OPTION"): {"en": "Vote with the number of an option, e.g. /vote 1.",
                             "ru": "Отвечайте номером варианта, например /vote 1."},
    ("VOTE", "TOO_MANY_CHANGES"): {"en": "You have changed your vote too often.",
                                   "ru": "Вы слишком часто меняли ответ."},
    ("POLL", "BAD_QUESTION"): CLASSROOM_TEXTS["poll_bad_question"],
    ("POLL", "BAD_OPTIONS"): CLASSROOM_TEXTS["poll_bad_options"],
    ("POLL", "TOO_LONG"): CLASSROOM_TEXTS["poll_too_long"],
    ("POLL", "BAD_TIME_LIMIT"): CLASSROOM_TEXTS["poll_bad_time"],
}


def describe_classroom(event: ClassroomEvent, lang: str, tr: Translate) -> str | None:
    """The line a person reads for a hands or poll event; None for those that say nothing in words."""
    if isinstance(event, HandAction):
        count = count_text(event.count, lang, tr)
        if event.action in ("up", "down"):
            key = f"hand_{event.action}" + ("_own" if event.own else "")
            return tr(key, lang, nick=event.actor, count=count)
        if event.action == "clear":
            return tr("hand_clear", lang, actor=event.actor)
        key = f"hand_{event.action}" + ("_me" if event.about_me else "")
        return tr(key, lang, actor=event.actor, nick=event.nick, count=count)
    if isinstance(event, HandsChanged):
        if not event.asked:
            return None
        if not event.hands:
            return tr("hands_queue_empty", lang, channel=event.channel)
        queue = ", ".join(f"{position}. {nick} ({minutes_seconds(event.server_now_ms - raised_at)})"
                          for position, (nick, raised_at) in enumerate(event.hands, 1))
        return tr("hands_queue", lang, count=count_text(len(event.hands), lang, tr), channel=event.channel,
                  queue=queue)
    if not isinstance(event, PollChanged) or event.poll is None:
        return None
    poll = event.poll
    if event.kind == "opened":
        options = " · ".join(option_text(poll, number) for number in range(1, len(poll.options) + 1))
        closes = ""
        if poll.closes_at:
            closes = tr("poll_closes", lang, time=minutes_seconds(poll.closes_at - event.server_now_ms))
        question = poll.question + (f" ({tr('poll_named_note', lang)})" if poll.named else "")
        return tr("poll_opened", lang, nick=poll.opener, question=question, options=options, closes=closes)
    if event.kind == "ballot":
        return tr("poll_ballot", lang, option=option_text(poll, event.option))
    if event.kind == "counts":
        counts = " · ".join(f"{option_text(poll, number)}: {count}" for number, count in enumerate(poll.counts, 1))
        return tr("poll_counts", lang, channel=event.channel, total=poll.total, counts=counts)
    if event.kind == "voter" and event.option:
        return tr("poll_voter", lang, nick=event.voter, option=option_text(poll, event.option),
                  votes=votes_text(poll.total, lang, tr))
    return None
