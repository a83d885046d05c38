"""Every user-facing string of both clients, in English and Russian, and how events read as text.

The CLI and the GUI share this catalogue; ``describe()`` turns a session event into the line a person
reads, so the two clients say the same thing in the same words.
"""
from __future__ import annotations

import locale
import os

from common.client import classroom_texts, numeric_texts, reaction_texts
from common.client import events as ev
from common.client.bilingual import Entry, worded
from common.client.classroom import ClassroomEvent
from common.client.classroom_texts import CLASSROOM_TEXTS, describe_classroom
from common.client.numeric_texts import numeric_text
from common.client.reaction_texts import REACTION_TEXTS, deleted_text
from common.protocol.casemap import ACCOUNT_EXTBAN

LANGUAGES = ("en", "ru")

CATALOGUE: dict[str, Entry] = {
    # connection
    "connecting": {"en": "Connecting to {where}…", "ru": "Подключение к {where}…"},
    "registered": {"en": "Connected as {nick}.", "ru": "Подключено как {nick}."},
    "disconnected": {"en": "Disconnected: {detail}", "ru": "Отключено: {detail}"},
    "reconnecting": {"en": "Connection lost ({detail}); reconnecting in {seconds} s…",
                     "ru": "Соединение потеряно ({detail}); переподключение через {seconds} с…"},
    "refused": {"en": "The server refused us: {detail}", "ru": "Сервер отказал: {detail}"},
    "failed": {"en": "Could not connect: {detail}", "ru": "Не удалось подключиться: {detail}"},
    "closed": {"en": "Connection closed.", "ru": "Соединение закрыто."},
    "nick_taken": {"en": "The nick {nick} is taken; using {new}.", "ru": "Ник {nick} занят; используется {new}."},
    "nick_refused_taken": {"en": "The nick {nick} is taken, and so are {nick}_ and the like; choose another: "
                                 "/nick NEW_NICK",
                           "ru": "Ник {nick} занят, как и {nick}_ и подобные; выберите другой: /nick НОВЫЙ_НИК"},
    "nick_refused_invalid": {"en": "The server does not accept the nick {nick} (letters, digits and "
                                   "[]\\`_^{{|}}-, not starting with a digit or -); choose another: /nick NEW_NICK",
                             "ru": "Сервер не принимает ник {nick} (буквы, цифры и []\\`_^{{|}}-, не с цифры "
                                   "и не с -); выберите другой: /nick НОВЫЙ_НИК"},
    "password_needed": {"en": "The server needs a password.", "ru": "Серверу нужен пароль."},
    "login_failed": {"en": "Could not log in as {account}: {reason}. Check the account and the password.",
                     "ru": "Не удалось войти как {account}: {reason}. Проверьте учётную запись и пароль."},
    "logged_in": {"en": "Logged in as {account}.", "ru": "Вы вошли как {account}."},
    "account_created": {"en": "Account {account} created: next time, log in with it.",
                        "ru": "Учётная запись {account} создана: в следующий раз входите с ней."},
    "password_wrong": {"en": "The server did not accept the password.", "ru": "Сервер не принял пароль."},
    "not_connected": {"en": "Not connected: the message was not sent.",
                      "ru": "Нет соединения: сообщение не отправлено."},
    "bad_channel": {"en": "{name} is not a channel name: # and then no spaces, commas or colons.",
                    "ru": "{name} — не имя канала: # и дальше без пробелов, запятых и двоеточий."},
    "no_target": {"en": "Join a channel first (/join #general) or open a private chat (/query nick).",
                  "ru": "Сначала войдите в канал (/join #general) или откройте личный чат (/query ник)."},
    "logged": {"en": "This chat is logged; history is kept for {days} days.",
               "ru": "Этот чат записывается; история хранится {days} дн."},
    # events
    "joined": {"en": "{nick} joined {channel}", "ru": "{nick} вошёл(ла) в {channel}"},
    "you_joined": {"en": "You joined {channel}", "ru": "Вы вошли в {channel}"},
    "parted": {"en": "{nick} left {channel}{reason}", "ru": "{nick} покинул(а) {channel}{reason}"},
    "kicked": {"en": "{nick} was kicked from {channel} by {by}{reason}",
               "ru": "{by} выгнал(а) {nick} из {channel}{reason}"},
    "quit": {"en": "{nick} quit{reason}", "ru": "{nick} вышел(ла){reason}"},
    "nick_changed": {"en": "{old} is now known as {new}", "ru": "{old} теперь {new}"},
    "topic": {"en": "Topic of {channel}: {topic}", "ru": "Тема {channel}: {topic}"},
    "no_topic": {"en": "{channel} has no topic", "ru": "У {channel} нет темы"},
    "topic_changed": {"en": "{nick} set the topic of {channel}: {topic}",
                      "ru": "{nick} сменил(а) тему {channel}: {topic}"},
    "mode": {"en": "{nick} sets mode {modes} on {target}", "ru": "{nick} ставит режим {modes} на {target}"},
    # Channel modes a teacher uses, told in words ({nick} did it, {who} is the member or mask concerned).
    "mode+m": {"en": "{nick} turned on moderation: only voiced members may speak",
               "ru": "{nick} включает модерацию: говорить могут только участники с голосом"},
    "mode-m": {"en": "{nick} turned off moderation: everyone may speak",
               "ru": "{nick} выключает модерацию: говорить могут все"},
    "mode+U": {"en": "{nick} turned on questions mode: messages from students reach only the teacher",
               "ru": "{nick} включает режим вопросов: сообщения учеников видит только учитель"},
    "mode-U": {"en": "{nick} turned off questions mode: everyone sees every message",
               "ru": "{nick} выключает режим вопросов: все видят все сообщения"},
    "mode+t": {"en": "{nick} locked the topic", "ru": "{nick} запрещает менять тему"},
    "mode-t": {"en": "{nick} unlocked the topic", "ru": "{nick} разрешает менять тему"},
    "mode+q": {"en": "{who} was muted by {nick}", "ru": "{nick} лишает слова: {who}"},
    "mode-q": {"en": "{who} was unmuted by {nick}", "ru": "{nick} возвращает слово: {who}"},
    "mode+v": {"en": "{nick} gave voice to {who}", "ru": "{nick} даёт голос: {who}"},
    "mode-v": {"en": "{nick} took voice from {who}", "ru": "{nick} забирает голос: {who}"},
    "mode+o": {"en": "{nick} made {who} an operator", "ru": "{nick} делает оператором: {who}"},
    "mode-o": {"en": "{nick} removed operator from {who}", "ru": "{nick} снимает оператора: {who}"},
    "mode+C": {"en": "{nick} made this a class channel", "ru": "{nick} делает канал каналом класса"},
    "mode-C": {"en": "{nick} made this an ordinary channel", "ru": "{nick} делает канал обычным"},
    "mode+b": {"en": "{who} was banned by {nick}", "ru": "{nick} банит: {who}"},
    "mode-b": {"en": "{who} was unbanned by {nick}", "ru": "{nick} снимает бан: {who}"},
    "announcement": {"en": "Announcement from {nick}: {text}", "ru": "Объявление от {nick}: {text}"},
    "away_on": {"en": "{nick} is away: {message}", "ru": "{nick} отошёл(ла): {message}"},
    "away_off": {"en": "{nick} is back", "ru": "{nick} вернулся(ась)"},
    "invited": {"en": "{by} invites you to {channel} (/join {channel})",
                "ru": "{by} приглашает вас в {channel} (/join {channel})"},
    "error": {"en": "Error: {text}", "ru": "Ошибка: {text}"},
    "history_divider": {"en": "— earlier messages above —", "ru": "— выше прежние сообщения —"},
    "names": {"en": "In {channel} ({count}): {members}", "ru": "В {channel} ({count}): {members}"},
    # commands
    "help_title": {"en": "Commands:", "ru": "Команды:"},
    "unknown_command": {"en": "Unknown command /{name}; /help lists them.",
                        "ru": "Неизвестная команда /{name}; список: /help."},
    "usage": {"en": "Usage: /{name} {args}", "ru": "Использование: /{name} {args}"},
    "now_talking_to": {"en": "Now talking in {target}.", "ru": "Теперь вы пишете в {target}."},
    "help_join": {"en": "join a channel", "ru": "войти в канал"},
    "help_part": {"en": "leave a channel", "ru": "покинуть канал"},
    "help_msg": {"en": "send a private message", "ru": "отправить личное сообщение"},
    "help_query": {"en": "open a private chat", "ru": "открыть личный чат"},
    "help_me": {"en": "describe an action (/me waves)", "ru": "описать действие (/me машет рукой)"},
    "help_nick": {"en": "change your nick", "ru": "сменить ник"},
    "help_topic": {"en": "show or set the channel topic", "ru": "показать или сменить тему канала"},
    "help_names": {"en": "list who is in a channel", "ru": "кто в канале"},
    "help_list": {"en": "list the channels", "ru": "список каналов"},
    "help_whois": {"en": "show who someone is", "ru": "сведения о пользователе"},
    "help_away": {"en": "set (or clear) an away message", "ru": "отметиться отошедшим (или вернуться)"},
    "help_invite": {"en": "invite someone to a channel", "ru": "пригласить в канал"},
    "help_kick": {"en": "remove someone from the channel", "ru": "выгнать из канала"},
    "help_mode": {"en": "show or change modes", "ru": "показать или сменить режимы"},
    "help_op": {"en": "make someone a channel operator", "ru": "сделать оператором канала"},
    "help_deop": {"en": "take operator status away", "ru": "снять статус оператора"},
    "help_voice": {"en": "let someone speak in a moderated channel", "ru": "дать слово в модерируемом канале"},
    "help_devoice": {"en": "take that right away again", "ru": "забрать слово"},
    "help_mute": {"en": "mute someone in this channel (+q)", "ru": "лишить слова в этом канале (+q)"},
    "help_unmute": {"en": "let a muted member speak again", "ru": "вернуть слово"},
    "help_ban": {"en": "keep someone out of the channel (+b)", "ru": "запретить вход в канал (+b)"},
    "help_unban": {"en": "lift a ban", "ru": "снять запрет"},
    "help_oper": {"en": "sign in as the teacher", "ru": "войти как учитель"},
    "help_announce": {"en": "teacher: a message to everyone on the server",
                      "ru": "учитель: сообщение всем на сервере"},
    "help_endlesson": {"en": "teacher: end the lesson; students leave the class channels until the next",
                       "ru": "учитель: закончить урок; ученики покидают каналы класса до следующего"},
    "help_startlesson": {"en": "teacher: open the class channels and invite the students back",
                         "ru": "учитель: открыть каналы класса и пригласить учеников обратно"},
    "help_classchannel": {"en": "teacher: make this a class channel (or \"off\")",
                          "ru": "учитель: сделать канал каналом класса (или «off»)"},
    "help_register": {"en": "create an account for your nick (keep your history on any computer)",
                      "ru": "создать учётную запись для вашего ника (история на любом компьютере)"},
    "help_kill": {"en": "teacher: disconnect one user", "ru": "учитель: отключить пользователя"},
    "help_attendance": {"en": "teacher: who was present in a class channel, per day (from a day YYYY-MM-DD)",
                        "ru": "учитель: кто был в канале класса, по дням (с дня ГГГГ-ММ-ДД)"},
    "help_quote": {"en": "send a raw IRC line", "ru": "отправить строку IRC как есть"},
    "help_quit": {"en": "leave the chat", "ru": "выйти из чата"},
    "help_help": {"en": "this list", "ru": "этот список"},
    "help_code": {"en": "send several lines as one block of code (the CLI reads them up to a line with . or ```)",
                  "ru": "отправить несколько строк одним блоком кода (CLI читает их до строки с . или ```)"},
    "code_hint": {"en": "Paste the lines into the input line: several lines go as one block of code, shown in a "
                        "fixed-width font with a Copy button. Text between `backticks` is fixed-width too.",
                  "ru": "Вставьте строки в поле ввода: несколько строк уходят одним блоком кода, моноширинным "
                        "шрифтом и с кнопкой «Копировать». Текст между `обратными кавычками` тоже моноширинный."},
    # GUI
    "server_tab": {"en": "Server", "ru": "Сервер"},
    "conversations": {"en": "Conversations", "ru": "Беседы"},
    "members": {"en": "Members ({count})", "ru": "Участники ({count})"},
    "send": {"en": "Send", "ru": "Отправить"},
    "copy": {"en": "Copy", "ru": "Копировать"},
    "copied": {"en": "Copied ✓", "ru": "Скопировано ✓"},
    "status": {"en": "{server} · {nick} · {state}", "ru": "{server} · {nick} · {state}"},
    "state_connecting": {"en": "connecting…", "ru": "подключение…"},
    "state_registered": {"en": "connected", "ru": "подключено"},
    "state_reconnecting": {"en": "reconnecting…", "ru": "переподключение…"},
    "state_offline": {"en": "offline", "ru": "нет связи"},
    "banner_lost": {"en": "Connection lost: {detail}. Reconnecting in {seconds} s; what you type is kept.",
                    "ru": "Связь потеряна: {detail}. Переподключение через {seconds} с; набранный текст сохранён."},
    "banner_ended": {"en": "Disconnected: {detail}", "ru": "Отключено: {detail}"},
    "banner_retry": {"en": "Could not connect to {where}: {detail}. Trying again in {seconds} s.",
                     "ru": "Не удалось подключиться к {where}: {detail}. Новая попытка через {seconds} с."},
    "banner_sent_away": {"en": "{detail}. You were disconnected on purpose: classchat does not reconnect by itself.",
                         "ru": "{detail}. Вас отключили намеренно: classchat не переподключается сам."},
    "connect_again": {"en": "Connect again…", "ru": "Подключиться снова…"},
    "menu_connect_other": {"en": "Connect to another server…", "ru": "Подключиться к другому серверу…"},
    "teacher_badge": {"en": "teacher", "ru": "учитель"},
    "question_note": {"en": "only the teacher sees this", "ru": "это видит только учитель"},
    "title": {"en": "classchat — {nick}", "ru": "classchat — {nick}"},
    "title_unread": {"en": "({count}) classchat — {nick}", "ru": "({count}) classchat — {nick}"},
    "menu_chat": {"en": "Chat", "ru": "Чат"},
    "menu_view": {"en": "View", "ru": "Вид"},
    "menu_language": {"en": "Language", "ru": "Язык"},
    "menu_close_conversation": {"en": "Close conversation", "ru": "Закрыть беседу"},
    "menu_quit": {"en": "Quit", "ru": "Выход"},
    "menu_light": {"en": "Light theme", "ru": "Светлая тема"},
    "menu_dark": {"en": "Dark theme", "ru": "Тёмная тема"},
    "menu_bigger": {"en": "Bigger text", "ru": "Крупнее"},
    "menu_smaller": {"en": "Smaller text", "ru": "Мельче"},
    # the protocol pane (View → Show the protocol) and the CLI's --raw
    "menu_protocol": {"en": "Show the protocol", "ru": "Показать протокол"},
    "protocol_title": {"en": "Protocol", "ru": "Протокол"},
    "protocol_hint": {"en": "→ sent by this window   ← received from the server   passwords show as ********",
                      "ru": "→ отправлено этим окном   ← получено от сервера   пароли скрыты: ********"},
    "protocol_clear": {"en": "Clear", "ru": "Очистить"},
    "protocol_close": {"en": "Hide", "ru": "Скрыть"},
    "raw_connected": {"en": "connected to {where}", "ru": "подключено к {where}"},
    "raw_connected_tls": {"en": "connected to {where} with TLS: these lines travel encrypted",
                          "ru": "подключено к {where} по TLS: эти строки идут зашифрованными"},
    "raw_failed": {"en": "could not connect to {where}: {detail}", "ru": "не удалось подключиться к {where}: {detail}"},
    "raw_disconnected": {"en": "disconnected: {detail}", "ru": "отключено: {detail}"},
    "raw_skipped": {"en": "… {count} lines not shown (they came too fast)",
                    "ru": "… не показано строк: {count} (пришли слишком быстро)"},
    "member_query": {"en": "Private chat", "ru": "Личный чат"},
    "member_whois": {"en": "Who is this?", "ru": "Кто это?"},
    "member_op": {"en": "Make operator", "ru": "Сделать оператором"},
    "member_deop": {"en": "Remove operator", "ru": "Снять оператора"},
    "member_voice": {"en": "Give voice", "ru": "Дать слово"},
    "member_devoice": {"en": "Take voice", "ru": "Забрать слово"},
    "member_kick": {"en": "Kick", "ru": "Выгнать"},
    "member_mute": {"en": "Mute", "ru": "Лишить слова"},
    "member_muted_mark": {"en": "muted", "ru": "без слова"},
    "member_unmute": {"en": "Unmute", "ru": "Вернуть слово"},
    "member_ban": {"en": "Kick and ban", "ru": "Выгнать и запретить вход"},
    "menu_channel": {"en": "Channel", "ru": "Канал"},
    "channel_m_on": {"en": "Mute everyone (only voiced members speak)",
                     "ru": "Тишина (говорят только участники с голосом)"},
    "channel_m_off": {"en": "Let everyone speak again", "ru": "Снова разрешить говорить всем"},
    "channel_U_on": {"en": "Questions to the teacher only", "ru": "Вопросы только учителю"},
    "channel_U_off": {"en": "Show every message to everyone", "ru": "Показывать все сообщения всем"},
    "channel_t_on": {"en": "Lock the topic", "ru": "Запретить менять тему"},
    "channel_t_off": {"en": "Unlock the topic", "ru": "Разрешить менять тему"},
    "channel_not_operator": {"en": "Only the channel's operators can change it",
                             "ru": "Менять канал могут только его операторы"},
    "channel_announce": {"en": "Announcement to everyone…", "ru": "Объявление для всех…"},
    "channel_end_lesson": {"en": "End the lesson…", "ru": "Закончить урок…"},
    "channel_start_lesson": {"en": "Start the lesson", "ru": "Начать урок"},
    "channel_C_on": {"en": "Make this a class channel", "ru": "Сделать каналом класса"},
    "channel_C_off": {"en": "Make it an ordinary channel", "ru": "Сделать обычным каналом"},
    # attendance (common/gui/attendance_view.py, the CLI's /attendance)
    "channel_attendance": {"en": "Attendance…", "ru": "Посещаемость…"},
    "attendance_title": {"en": "Attendance in {channel}", "ru": "Посещаемость в {channel}"},
    "attendance_since": {"en": "From day (YYYY-MM-DD, empty: all):", "ru": "С дня (ГГГГ-ММ-ДД, пусто: все):"},
    "attendance_show": {"en": "Show", "ru": "Показать"},
    "attendance_save": {"en": "Save as CSV…", "ru": "Сохранить как CSV…"},
    "attendance_close": {"en": "Close", "ru": "Закрыть"},
    "attendance_name": {"en": "Name", "ru": "Имя"},
    "attendance_account": {"en": "Account", "ru": "Учётная запись"},
    "attendance_day": {"en": "Day", "ru": "День"},
    "attendance_first": {"en": "First join", "ru": "Пришёл"},
    "attendance_last": {"en": "Last leave", "ru": "Ушёл"},
    "attendance_minutes": {"en": "Minutes", "ru": "Минут"},
    "attendance_present": {"en": "still here", "ru": "ещё здесь"},
    "attendance_guest": {"en": "(guest)", "ru": "(гость)"},
    "attendance_loading": {"en": "Asking the server…", "ru": "Запрос к серверу…"},
    "attendance_rows": {"en": "{count} row(s): a person per day.", "ru": "Строк: {count} (человек за день)."},
    "attendance_left_out": {"en": " {count} earlier row(s) left out: choose a later day.",
                            "ru": " Не показано более ранних строк: {count}; выберите более поздний день."},
    "attendance_bad_date": {"en": "Write the day as YYYY-MM-DD, e.g. 2026-11-24.",
                            "ru": "Напишите день как ГГГГ-ММ-ДД, например 2026-11-24."},
    "attendance_saved": {"en": "Saved to {path}", "ru": "Сохранено: {path}"},
    "attendance_save_failed": {"en": "Could not save {path}: {error}", "ru": "Не удалось сохранить {path}: {error}"},
    "attendance_refused": {"en": "The server did not answer: {text}", "ru": "Сервер не ответил: {text}"},
    "attendance_offline": {"en": "Not connected.", "ru": "Нет соединения."},
    "attendance_header": {"en": "Attendance in {channel}{since}: {count} row(s)",
                          "ru": "Посещаемость в {channel}{since}: строк: {count}"},
    "attendance_since_day": {"en": " since {day}", "ru": " с {day}"},
    "announcement_banner": {"en": "Announcement from {nick}: {text}    (click to hide)",
                            "ru": "Объявление от {nick}: {text}    (нажмите, чтобы скрыть)"},
    "connect_title": {"en": "Connect to a chat server", "ru": "Подключение к серверу"},
    "connect_server": {"en": "Server", "ru": "Сервер"},
    "connect_port": {"en": "Port", "ru": "Порт"},
    "connect_nick": {"en": "Nickname", "ru": "Ник"},
    "connect_password": {"en": "Server password\n(if any)", "ru": "Пароль сервера\n(если есть)"},
    "connect_account": {"en": "Account", "ru": "Учётная запись"},
    "connect_account_password": {"en": "Password", "ru": "Пароль"},
    "connect_create_account": {"en": "Create an account", "ru": "Создать учётную запись"},
    "connect_channel": {"en": "Channel", "ru": "Канал"},
    "connect_tls": {"en": "Use TLS", "ru": "Использовать TLS"},
    "connect_tls_pin": {"en": "Certificate fingerprint\n(self-signed, optional)",
                        "ru": "Отпечаток сертификата\n(самоподписанного, необяз.)"},
    "connect_button": {"en": "Connect", "ru": "Подключиться"},
    "cancel_button": {"en": "Cancel", "ru": "Отмена"},
    "form_host": {"en": "Enter the server address.", "ru": "Введите адрес сервера."},
    "form_port": {"en": "The port is a number from 1 to 65535.", "ru": "Порт — число от 1 до 65535."},
    "form_nick": {"en": "A nickname is letters, digits and []\\`_^{{|}}-, up to 30, not starting with a digit.",
                  "ru": "Ник — буквы, цифры и []\\`_^{{|}}-, до 30 знаков, не с цифры."},
    "form_channel": {"en": "A channel name starts with # and has no spaces or commas.",
                     "ru": "Имя канала начинается с # и не содержит пробелов и запятых."},
    "form_account": {"en": "An account name is written like a nickname.",
                     "ru": "Имя учётной записи пишется как ник."},
    "form_account_password": {"en": "Enter the account's password.", "ru": "Введите пароль учётной записи."},
    "form_account_is_nick": {"en": "A new account is named after your nickname: make the two the same.",
                             "ru": "Новая учётная запись называется по нику: сделайте их одинаковыми."},
    "form_new_password": {"en": "A new account's password needs at least {count} characters.",
                          "ru": "Пароль новой учётной записи — не короче {count} знаков."},
    "form_tls_pin": {"en": "A certificate fingerprint is 64 hex digits (colons allowed), as the server prints it.",
                     "ru": "Отпечаток сертификата — 64 шестнадцатеричные цифры (можно с двоеточиями), как его "
                           "печатает сервер."},
    # CLI
    "cli_prompt": {"en": "[{target}] ", "ru": "[{target}] "},
    "cli_ask_nick": {"en": "Another nick: ", "ru": "Другой ник: "},
    "cli_ask_password": {"en": "Password: ", "ru": "Пароль: "},
    "cli_goodbye": {"en": "Bye.", "ru": "До свидания."},
    "cli_private_to": {"en": "-> {nick}:", "ru": "-> {nick}:"},
    "cli_nick_taken": {"en": "the nick {nick} is taken (and so are {nick}_ and the like); choose another with --nick",
                       "ru": "ник {nick} занят (как и {nick}_ и подобные); выберите другой: --nick"},
    "cli_nick_invalid": {"en": "the server does not accept the nick {nick}; choose another with --nick",
                         "ru": "сервер не принимает ник {nick}; выберите другой: --nick"},
    "cli_password_needed": {"en": "the server needs a password: give it with --password",
                            "ru": "серверу нужен пароль: укажите его с --password"},
    "cli_password_wrong": {"en": "the server did not accept the password (--password)",
                           "ru": "сервер не принял пароль (--password)"},
    "cli_refused": {"en": "the server refused the connection: {detail}", "ru": "сервер отказал: {detail}"},
    "cli_login_failed": {"en": "could not log in as {account}: {reason} (--account, CLASSCHAT_ACCOUNT_PASSWORD)",
                         "ru": "не удалось войти как {account}: {reason} (--account, CLASSCHAT_ACCOUNT_PASSWORD)"},
    "cli_no_connection": {"en": "could not connect to {where}", "ru": "не удалось подключиться к {where}"},
    "cli_not_joined": {"en": "could not join {channel}", "ru": "не удалось войти в {channel}"},
    "cli_unsent": {"en": "Could not deliver everything before the connection ended.",
                   "ru": "Не всё удалось отправить до разрыва соединения."},
    "cli_code_start": {"en": "Type or paste the lines; a line with only . or ``` sends them as one block.",
                       "ru": "Введите или вставьте строки; строка из одной . или ``` отправит их одним блоком."},
    "cli_code_prompt": {"en": "... ", "ru": "... "},
    **CLASSROOM_TEXTS,  # raised hands and polls
}


CATALOGUE.update(REACTION_TEXTS)  # deleted messages and reactions: reaction_texts.py

# IRCv3 standard replies (FAIL <command> <code> [context…] :description) in words, by command and code: each
# feature module contributes the FAILs of its own commands. See ``fail_words`` for the fields a text may use.
FAIL_TEXTS: dict[tuple[str, str], Entry] = {
    **numeric_texts.FAIL_TEXTS,  # multiline messages (BATCH), a message the server could not store
    **classroom_texts.FAIL_TEXTS,  # HAND, POLL, VOTE
    **reaction_texts.FAIL_TEXTS,  # REDACT, a refused reaction
}


def detect_language(requested: str | None = None) -> str:
    """``--lang`` when given, else Russian for a Russian locale, else English."""
    if requested in LANGUAGES:
        return requested
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        value = os.environ.get(variable, "")
        if value:
            return "ru" if value.lower().startswith("ru") else "en"
    current = locale.getlocale()[0] or ""
    return "ru" if current.lower().startswith("ru") else "en"


def fail_words(params: tuple[str, ...] | list[str], lang: str) -> str | None:
    """A FAIL in words from its parameters (command, code, context…, description): its text in
    ``FAIL_TEXTS`` with ``{0}``, ``{1}``… the context parameters, ``{context}`` the last of them ("" when
    there is none) and ``{why}`` the server's description. None when the table does not know it or the
    server sent fewer context parameters than the text needs: its own description is shown then."""
    if len(params) < 3:
        return None
    entry = FAIL_TEXTS.get((params[0].upper(), params[1].upper()))
    if entry is None:
        return None
    context = params[2:-1]
    try:
        return worded(entry, lang, *context, why=params[-1], context=context[-1] if context else "")
    except (IndexError, KeyError):
        return None


def tr(key: str, lang: str, **values: object) -> str:
    return worded(CATALOGUE[key], lang, **values)


def _reason(text: str) -> str:
    return f" ({text})" if text else ""


def describe_modes(event: ev.ModeChanged, lang: str) -> str:
    """Mode changes in words where a classroom knows them ("alice was muted by teacher"), else as modes."""
    if not event.changes or not all(f"mode{change}" in CATALOGUE for change, _ in event.changes):
        return tr("mode", lang, nick=event.set_by, modes=event.modes, target=event.target)
    parts = []
    for change, argument in event.changes:
        who = argument[:-len("!*@*")] if argument.endswith("!*@*") else argument
        who = who[len(ACCOUNT_EXTBAN):] if who.startswith(ACCOUNT_EXTBAN) else who  # an account mask names the account
        parts.append(tr(f"mode{change}", lang, nick=event.set_by, who=who))
    return "; ".join(parts)


def describe(event: ev.Event, lang: str) -> str | None:
    """The text line for an event that is not a chat message; None for events with no text of their own."""
    if isinstance(event, ev.ConnectionState):
        if event.state == "connecting":
            return tr("connecting", lang, where=event.detail)
        if event.state == "registered":
            return tr("registered", lang, nick=event.detail)
        if event.state == "reconnecting":
            return tr("reconnecting", lang, detail=event.detail, seconds=f"{event.retry_in or 0:.0f}")
        if event.state in ("disconnected", "refused", "failed"):
            return tr(event.state, lang, detail=event.detail)
        return tr("closed", lang) if event.state == "closed" else None
    if isinstance(event, ev.Joined):
        if event.own:
            return tr("you_joined", lang, channel=event.channel)
        return tr("joined", lang, nick=event.nick, channel=event.channel)
    if isinstance(event, ev.Parted):
        if event.kicked_by:
            return tr("kicked", lang, nick=event.nick, channel=event.channel, by=event.kicked_by,
                      reason=_reason(event.reason))
        return tr("parted", lang, nick=event.nick, channel=event.channel, reason=_reason(event.reason))
    if isinstance(event, ev.Quit):
        return tr("quit", lang, nick=event.nick, reason=_reason(event.reason))
    if isinstance(event, ev.NickChanged):
        return tr("nick_changed", lang, old=event.old, new=event.new)
    if isinstance(event, ev.TopicChanged):
        if event.on_join:
            if event.topic:
                return tr("topic", lang, channel=event.channel, topic=event.topic)
            return tr("no_topic", lang, channel=event.channel)
        return tr("topic_changed", lang, nick=event.set_by, channel=event.channel, topic=event.topic)
    if isinstance(event, ev.ModeChanged):
        return describe_modes(event, lang)
    if isinstance(event, ev.Announcement):
        return tr("announcement", lang, nick=event.sender, text=event.text)
    if isinstance(event, ev.AwayChanged):
        if event.message:
            return tr("away_on", lang, nick=event.nick, message=event.message)
        return tr("away_off", lang, nick=event.nick)
    if isinstance(event, ev.Invited):
        return tr("invited", lang, by=event.by, channel=event.channel)
    if isinstance(event, ev.ErrorReply):
        worded = (fail_words(event.params, lang) if event.code == "FAIL"
                  else numeric_text(event.code, event.params, lang))
        return tr("error", lang, text=worded or event.text)
    if isinstance(event, ev.MessageDeleted):
        return deleted_text(event, lang)
    if isinstance(event, ev.ServerReply):
        return numeric_text(event.code, event.params, lang) or event.text
    if isinstance(event, ev.NamesList):
        members = " ".join(prefixes + nick for prefixes, nick in event.members)
        return tr("names", lang, channel=event.channel, count=len(event.members), members=members)
    if isinstance(event, ev.NickRefused):
        return tr("nick_refused_taken" if event.taken else "nick_refused_invalid", lang, nick=event.nick)
    if isinstance(event, ev.Notice):
        return tr(event.key, lang, **event.values)
    if isinstance(event, ClassroomEvent):
        return describe_classroom(event, lang, tr)
    return None
