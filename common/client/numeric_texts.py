"""How the numerics the clients show read, in English and Russian, written from their number and parameters.

A server's own text for a numeric is English, and IRC's jargon ("Permission Denied- You're not an IRC
operator"); it stays the fallback, for a numeric this table does not know. A template here takes the
parameters after our nick as ``{0}``, ``{1}``, … (RFC 2812 §5 and modern.ircdocs.horse "Numerics" give
their order), and ``{rest1}`` for all of them from the second on. Pure data and pure functions: the views
call ``numeric_text`` from their own thread through ``texts.describe``.
"""
from __future__ import annotations

from common.client.bilingual import Entry, in_language, worded
from common.protocol import numerics as rpl

NUMERIC_TEXTS: dict[str, dict[str, str]] = {
    # WHOWAS, INFO, LINKS, HELP, MONITOR, WHOX, bots and accounts (modern.ircdocs.horse, IRCv3)
    rpl.RPL_WHOWASUSER: {"en": "{0} was {1}@{2} ({4})", "ru": "{0} был(а) {1}@{2} ({4})"},
    rpl.RPL_ENDOFWHOWAS: {"en": "End of what was {0}", "ru": "Конец сведений о {0}"},
    rpl.ERR_WASNOSUCHNICK: {"en": "Nobody has been {0} lately", "ru": "Недавно никого по имени {0} не было"},
    rpl.RPL_WHOISACCOUNT: {"en": "{0} is logged in as {1}", "ru": "{0} вошёл(ла) как {1}"},
    rpl.RPL_WHOISBOT: {"en": "{0} is a bot", "ru": "{0} — бот"},
    rpl.RPL_WHOSPCRPL: {"en": "{rest1}", "ru": "{rest1}"},
    rpl.RPL_LINKS: {"en": "Server {1}", "ru": "Сервер {1}"},
    rpl.RPL_ENDOFLINKS: {"en": "End of the server list", "ru": "Конец списка серверов"},
    rpl.RPL_INFO: {"en": "{0}", "ru": "{0}"},
    rpl.RPL_ENDOFINFO: {"en": "End of the server's information", "ru": "Конец сведений о сервере"},
    rpl.RPL_HELPSTART: {"en": "{1}", "ru": "{1}"},
    rpl.RPL_HELPTXT: {"en": "{1}", "ru": "{1}"},
    rpl.RPL_ENDOFHELP: {"en": "{1}", "ru": "{1}"},
    rpl.ERR_HELPNOTFOUND: {"en": "The server has no help about {0}", "ru": "У сервера нет справки о {0}"},
    rpl.RPL_MONONLINE: {"en": "Now online: {0}", "ru": "Сейчас в сети: {0}"},
    rpl.RPL_MONOFFLINE: {"en": "Not online: {0}", "ru": "Не в сети: {0}"},
    rpl.RPL_MONLIST: {"en": "Watching for: {0}", "ru": "Отслеживаются: {0}"},
    rpl.RPL_ENDOFMONLIST: {"en": "End of the watch list", "ru": "Конец списка отслеживаемых"},
    rpl.ERR_MONLISTFULL: {"en": "The watch list is full ({0} at most)", "ru": "Список отслеживаемых полон (не больше {0})"},
    rpl.RPL_LOGGEDOUT: {"en": "You are logged out", "ru": "Вы вышли из учётной записи"},
    rpl.RPL_SASLMECHS: {"en": "The server logs in with: {0}", "ru": "Сервер принимает вход через: {0}"},
    rpl.ERR_SASLFAIL: {"en": "Wrong account name or password", "ru": "Неверное имя учётной записи или пароль"},
    rpl.ERR_SASLTOOLONG: {"en": "The login was too long", "ru": "Слишком длинные данные для входа"},
    rpl.ERR_SASLABORTED: {"en": "The login was abandoned", "ru": "Вход прерван"},
    rpl.ERR_SASLALREADY: {"en": "You are already logged in", "ru": "Вы уже вошли"},
    # replies
    rpl.RPL_UMODEIS: {"en": "Your modes: {0}", "ru": "Ваши режимы: {0}"},
    rpl.RPL_LUSEROP: {"en": "Teachers online: {0}", "ru": "Учителей в сети: {0}"},
    rpl.RPL_LUSERUNKNOWN: {"en": "Connections still signing in: {0}", "ru": "Подключений без входа: {0}"},
    rpl.RPL_LUSERCHANNELS: {"en": "Channels: {0}", "ru": "Каналов: {0}"},
    rpl.RPL_LOCALUSERS: {"en": "People online: {0} (most at once: {1})",
                         "ru": "Сейчас в сети: {0} (больше всего было: {1})"},
    rpl.RPL_GLOBALUSERS: {"en": "People on the whole network: {0} (most at once: {1})",
                          "ru": "Во всей сети: {0} (больше всего было: {1})"},
    rpl.RPL_AWAY: {"en": "{0} is away: {1}", "ru": "{0} отошёл(ла): {1}"},
    rpl.RPL_USERHOST: {"en": "Addresses: {0}", "ru": "Адреса: {0}"},
    rpl.RPL_ISON: {"en": "Online: {0}", "ru": "В сети: {0}"},
    rpl.RPL_UNAWAY: {"en": "You are back (no longer marked away)", "ru": "Вы вернулись (отметка «отошёл» снята)"},
    rpl.RPL_NOWAWAY: {"en": "You are marked as away", "ru": "Вы отмечены как отошедший(ая)"},
    rpl.RPL_WHOISUSER: {"en": "{0} is {1}@{2} ({4})", "ru": "{0} — это {1}@{2} ({4})"},
    rpl.RPL_WHOISSERVER: {"en": "{0} is connected to {1}", "ru": "{0} подключён(а) к {1}"},
    rpl.RPL_WHOISOPERATOR: {"en": "{0} is the teacher", "ru": "{0} — учитель"},
    rpl.RPL_WHOISIDLE: {"en": "{0} has been idle {1} s", "ru": "{0} молчит уже {1} с"},
    rpl.RPL_WHOISCHANNELS: {"en": "{0} is in {1}", "ru": "{0} в каналах: {1}"},
    rpl.RPL_LIST: {"en": "{0} ({1}): {2}", "ru": "{0} ({1}): {2}"},
    rpl.RPL_LISTEND: {"en": "End of the channel list", "ru": "Конец списка каналов"},
    rpl.RPL_CHANNELMODEIS: {"en": "{0} modes: {rest1}", "ru": "Режимы {0}: {rest1}"},
    rpl.RPL_INVITING: {"en": "{0} is invited to {1}", "ru": "{0} приглашён(а) в {1}"},
    rpl.RPL_VERSION: {"en": "The server {1} runs {0}", "ru": "На сервере {1} работает {0}"},
    rpl.RPL_WHOREPLY: {"en": "{0} {5} {6} {2}@{3}", "ru": "{0} {5} {6} {2}@{3}"},
    rpl.RPL_BANLIST: {"en": "{0}: {1} may not join (set by {2})", "ru": "{0}: {1} запрещён вход (поставил(а) {2})"},
    rpl.RPL_ENDOFBANLIST: {"en": "End of the ban list of {0}", "ru": "Конец списка запретов {0}"},
    rpl.RPL_QUIETLIST: {"en": "{0}: {2} is muted (by {3})", "ru": "{0}: {2} лишён(а) слова (поставил(а) {3})"},
    rpl.RPL_ENDOFQUIETLIST: {"en": "End of the mute list of {0}", "ru": "Конец списка лишённых слова в {0}"},
    rpl.RPL_EXCEPTLIST: {"en": "{0}: {1} may join despite a ban (set by {2})",
                         "ru": "{0}: {1} может войти, несмотря на запрет (поставил(а) {2})"},
    rpl.RPL_ENDOFEXCEPTLIST: {"en": "End of the ban exception list of {0}", "ru": "Конец списка исключений из запретов {0}"},
    rpl.RPL_INVEXLIST: {"en": "{0}: {1} may join without an invitation (set by {2})",
                        "ru": "{0}: {1} может войти без приглашения (поставил(а) {2})"},
    rpl.RPL_ENDOFINVEXLIST: {"en": "End of the invitation exception list of {0}",
                             "ru": "Конец списка входящих без приглашения в {0}"},
    rpl.RPL_INVITELIST: {"en": "You are invited to {0}", "ru": "Вас пригласили в {0}"},
    rpl.RPL_ENDOFINVITELIST: {"en": "End of your invitations", "ru": "Конец списка приглашений"},
    rpl.RPL_MOTDSTART: {"en": "Message of the day:", "ru": "Сообщение дня:"},
    rpl.RPL_YOUREOPER: {"en": "You are now signed in as the teacher.", "ru": "Вы вошли как учитель."},
    rpl.RPL_TIME: {"en": "Time on {0}: {1}", "ru": "Время на {0}: {1}"},
    rpl.RPL_VISIBLEHOST: {"en": "Others now see your address as {0}", "ru": "Другие теперь видят ваш адрес как {0}"},
    # errors
    rpl.ERR_UNKNOWNERROR: {"en": "The server could not carry out {0}", "ru": "Сервер не смог выполнить {0}"},
    rpl.ERR_NOSUCHNICK: {"en": "There is no {0} here (no such nick or channel)",
                         "ru": "Здесь нет {0} (нет такого ника или канала)"},
    rpl.ERR_NOSUCHCHANNEL: {"en": "{0}: no such channel, or not a valid channel name",
                            "ru": "{0}: нет такого канала или недопустимое имя канала"},
    rpl.ERR_CANNOTSENDTOCHAN: {"en": "You cannot write in {0} now", "ru": "Сейчас нельзя писать в {0}"},
    rpl.ERR_TOOMANYCHANNELS: {"en": "Cannot join {0}: you are in too many channels already",
                              "ru": "Нельзя войти в {0}: вы уже в слишком многих каналах"},
    rpl.ERR_TOOMANYTARGETS: {"en": "Too many recipients at once ({0})", "ru": "Слишком много адресатов сразу ({0})"},
    rpl.ERR_NOORIGIN: {"en": "PING without a token", "ru": "PING без метки"},
    rpl.ERR_INVALIDCAPCMD: {"en": "Unknown CAP subcommand {0}", "ru": "Неизвестная подкоманда CAP {0}"},
    rpl.ERR_NORECIPIENT: {"en": "No one to send it to", "ru": "Не указан адресат"},
    rpl.ERR_NOTEXTTOSEND: {"en": "No text to send", "ru": "Нет текста для отправки"},
    rpl.ERR_INPUTTOOLONG: {"en": "The line was too long", "ru": "Слишком длинная строка"},
    rpl.ERR_UNKNOWNCOMMAND: {"en": "The server does not know the command {0}", "ru": "Сервер не знает команду {0}"},
    rpl.ERR_NONICKNAMEGIVEN: {"en": "No nick given", "ru": "Не указан ник"},
    rpl.ERR_ERRONEUSNICKNAME: {
        "en": "{0} is not a valid nick (letters, digits and []\\`_^{{|}}-, not starting with a digit or -)",
        "ru": "{0} — недопустимый ник (буквы, цифры и []\\`_^{{|}}-, не с цифры и не с -)"},
    rpl.ERR_NICKNAMEINUSE: {"en": "The nick {0} is taken", "ru": "Ник {0} занят"},
    rpl.ERR_BANNICKCHANGE: {"en": "You cannot change your nick while muted or banned in {0}",
                            "ru": "Нельзя сменить ник, пока вы лишены слова или под запретом в {0}"},
    rpl.ERR_USERNOTINCHANNEL: {"en": "{0} is not in {1}", "ru": "{0} нет в {1}"},
    rpl.ERR_NOTONCHANNEL: {"en": "You are not in {0}", "ru": "Вас нет в {0}"},
    rpl.ERR_USERONCHANNEL: {"en": "{0} is already in {1}", "ru": "{0} уже в {1}"},
    rpl.ERR_NOTREGISTERED: {"en": "You are not signed in yet", "ru": "Вы ещё не вошли"},
    rpl.ERR_NEEDMOREPARAMS: {"en": "{0}: something is missing", "ru": "{0}: не хватает параметров"},
    rpl.ERR_ALREADYREGISTERED: {"en": "You are already signed in", "ru": "Вы уже вошли"},
    rpl.ERR_PASSWDMISMATCH: {"en": "Wrong password", "ru": "Неверный пароль"},
    rpl.ERR_YOUREBANNEDCREEP: {"en": "You may not use this server", "ru": "Вам запрещено пользоваться этим сервером"},
    rpl.ERR_KEYSET: {"en": "{0} has a key already", "ru": "У {0} уже есть ключ"},
    rpl.ERR_CHANNELISFULL: {"en": "Cannot join {0}: it is full", "ru": "Нельзя войти в {0}: канал заполнен"},
    rpl.ERR_UNKNOWNMODE: {"en": "Unknown mode {0}", "ru": "Неизвестный режим {0}"},
    rpl.ERR_INVITEONLYCHAN: {"en": "Cannot join {0}: by invitation only", "ru": "Нельзя войти в {0}: только по приглашению"},
    rpl.ERR_BANNEDFROMCHAN: {"en": "Cannot join {0}: you are banned from it", "ru": "Нельзя войти в {0}: вам запрещён вход"},
    rpl.ERR_BADCHANNELKEY: {"en": "Cannot join {0}: it needs its key (/join {0} KEY)",
                            "ru": "Нельзя войти в {0}: нужен ключ (/join {0} КЛЮЧ)"},
    rpl.ERR_BANLISTFULL: {"en": "The list of {0} is full: {1} was not added",
                          "ru": "Список {0} заполнен: {1} не добавлен"},
    rpl.ERR_NOPRIVILEGES: {"en": "Only the teacher can do that", "ru": "Это может только учитель"},
    rpl.ERR_CHANOPRIVSNEEDED: {"en": "Only the operators of {0} can do that", "ru": "Это могут только операторы {0}"},
    rpl.ERR_NOOPERHOST: {"en": "You cannot sign in as the teacher from this computer",
                         "ru": "С этого компьютера нельзя войти как учитель"},
    rpl.ERR_UMODEUNKNOWNFLAG: {"en": "Unknown mode", "ru": "Неизвестный режим"},
    rpl.ERR_USERSDONTMATCH: {"en": "You can change only your own modes", "ru": "Менять можно только свои режимы"},
    rpl.ERR_INVALIDMODEPARAM: {"en": "{0}: {2} is not a valid value for mode {1}",
                               "ru": "{0}: {2} — недопустимое значение для режима {1}"},
}

# Why a message was refused (404), by the channel mode the server names at the end of its text: "(+m)".
CANNOT_SEND_REASONS: dict[str, dict[str, str]] = {
    "n": {"en": "you are not in it (+n)", "ru": "вы не в этом канале (+n)"},
    "m": {"en": "only members with a voice may speak (+m)", "ru": "говорить могут только участники с голосом (+m)"},
    "q": {"en": "you are muted (+q)", "ru": "вы лишены слова (+q)"},
    "b": {"en": "you are banned from it (+b)", "ru": "вам запрещён вход (+b)"},
}


# IRCv3 standard replies (FAIL <command> <code> [context…] :description) of multiline messages, by command
# and code: this module's part of ``texts.FAIL_TEXTS``, whose ``fail_words`` fills in the fields.
FAIL_TEXTS: dict[tuple[str, str], Entry] = {
    ("BATCH", "MULTILINE_MAX_BYTES"): {
        "en": "The message was not sent: it is longer than the server takes in one message ({0} bytes)",
        "ru": "Сообщение не отправлено: оно длиннее, чем сервер принимает за раз ({0} байт)"},
    ("BATCH", "MULTILINE_MAX_LINES"): {
        "en": "The message was not sent: it has more lines than the server takes in one message ({0})",
        "ru": "Сообщение не отправлено: в нём больше строк, чем сервер принимает за раз ({0})"},
    ("BATCH", "MULTILINE_INVALID_TARGET"): {
        "en": "The message was not sent: its lines went to {0} and to {1}",
        "ru": "Сообщение не отправлено: его строки шли и в {0}, и в {1}"},
    ("BATCH", "MULTILINE_INVALID"): {
        "en": "The message of several lines was not sent ({why})",
        "ru": "Сообщение из нескольких строк не отправлено ({why})"},
    ("PRIVMSG", "MESSAGE_NOT_SENT"): {
        "en": "Your message to {0} was not sent: the server could not save it; send it again",
        "ru": "Ваше сообщение в {0} не отправлено: сервер не смог его сохранить; отправьте ещё раз"},
}


def numeric_text(code: str, params: tuple[str, ...] | list[str], lang: str) -> str | None:
    """The text of numeric ``code`` with ``params`` (those after our nick) in ``lang``; None when this table
    does not know the numeric or the server sent fewer parameters than its template needs."""
    if code == rpl.RPL_MOTD:
        return params[-1].removeprefix("- ") if params else None  # the server's own words, in its language
    entry = NUMERIC_TEXTS.get(code)
    if entry is None:
        return None
    try:
        text = worded(entry, lang, *params, rest1=" ".join(params[1:]))
    except (IndexError, KeyError):
        return None
    if code == rpl.ERR_CANNOTSENDTOCHAN and params:
        last = params[-1].rstrip()
        reason = CANNOT_SEND_REASONS.get(last[-2]) if last.endswith(")") and last[-4:-2] == "(+" else None
        if reason is not None:
            text = f"{text}: {in_language(reason, lang)}"
    return text
