"""What HELP (and HELPOP) tells, and what INFO says about the server: every text of those replies, in one
catalogue, so that adding a command means adding its topic here (a test checks every command has one).

The texts are English only: a server does not know which language a client's user reads (IRC has no
language negotiation), and the clients carry their own translations. A topic is a syntax line (sent in
704 RPL_HELPSTART) and lines of text (705 RPL_HELPTXT), each short enough for one IRC line.
"""
from __future__ import annotations

INFO_LINES = (
    "classchat: an IRC server for classrooms.",
    "It runs on the Python standard library alone, with one thread per connection,",
    "one shared state under one lock and one thread that stores and delivers messages.",
    "Protocol: RFC 1459/2812 as modern.ircdocs.horse describes them, with the IRCv3",
    "capabilities listed by CAP LS. Type /HELP for the commands.",
)

INDEX_HEADER = "classchat help: the commands this server knows"
INDEX_FOOTER = "Type /HELP <command> for one of them, /HELP USERMODES or /HELP CHANMODES for the modes."

HELP_TOPICS: dict[str, tuple[str, ...]] = {
    "PASS": ("PASS <password>",
             "Gives the server password, when the server has one. Send it before NICK and USER."),
    "NICK": ("NICK <nickname>",
             "Chooses your nickname, or changes it. Letters of any alphabet, digits and []\\`_^{|}- ;",
             "not starting with a digit or '-'. Nicknames compare case-insensitively."),
    "USER": ("USER <username> 0 * :<real name>",
             "Registers the connection, with NICK. The real name must not be empty."),
    "CAP": ("CAP LS [302] | CAP REQ :<capabilities> | CAP LIST | CAP END",
            "Negotiates IRCv3 capabilities. Registration waits for CAP END once CAP LS or CAP REQ came."),
    "PING": ("PING <token>", "The server answers PONG with the same token."),
    "PONG": ("PONG <token>", "The answer to the server's PING; any line shows that you are still there."),
    "QUIT": ("QUIT [:<message>]", "Leaves the server; your channels see the message."),
    "JOIN": ("JOIN <#channel>{,<#channel>} [<key>{,<key>}] | JOIN 0",
             "Joins channels (creating them: the first to join becomes channel operator).",
             "JOIN 0 leaves every channel."),
    "PART": ("PART <#channel>{,<#channel>} [:<message>]", "Leaves channels."),
    "TOPIC": ("TOPIC <#channel> [:<topic>]",
              "Shows the channel's topic, or sets it (only operators may under +t; TOPIC #c : clears it)."),
    "NAMES": ("NAMES [<#channel>{,<#channel>}]", "Lists who is in the channels (@ operators, + voiced)."),
    "LIST": ("LIST [<#channel>{,<#channel>}]", "Lists the channels with their sizes and topics."),
    "INVITE": ("INVITE <nick> <#channel>",
               "Invites someone to a channel; an invitation lets them past +i, +l and bans."),
    "KICK": ("KICK <#channel> <nick>{,<nick>} [:<reason>]", "Channel operators: removes someone from the channel."),
    "PRIVMSG": ("PRIVMSG <target>{,<target>} :<text>",
                "Sends a message to channels or nicks (at most 4 targets). Operators may send to $* (everyone)."),
    "NOTICE": ("NOTICE <target>{,<target>} :<text>", "Like PRIVMSG, but never answered automatically."),
    "TAGMSG": ("TAGMSG <target>{,<target>}",
               "A message with tags only (IRCv3 message-tags), e.g. a typing notification."),
    "WHO": ("WHO <mask|#channel> [o][%<fields>[,<token>]]",
            "Lists users matching a mask (nick, host, real name), or a channel's members; 'o': operators only.",
            "Invisible users (+i) answer only when named exactly or when you share a channel.",
            "With %<fields> (WHOX) each reply (354) holds the fields asked, in the order tcuihsnfdlaor:",
            "t token, c channel, u username, i address, h host, s server, n nick, f flags,",
            "d hops, l idle seconds, a account (0: none), o op level, r real name."),
    "WHOIS": ("WHOIS <nick>", "Shows who a user is: address, real name, channels, away, idle time, bot."),
    "WHOWAS": ("WHOWAS <nick>{,<nick>} [<count>]",
               "Shows who used a nickname before (up to 10 entries a nick, newest first; up to 4 nicks)."),
    "ISON": ("ISON <nick> {<nick>}", "Tells which of the nicks are online."),
    "USERHOST": ("USERHOST <nick> {<nick>}", "Shows the address of up to 5 nicks."),
    "AWAY": ("AWAY [:<message>]", "Marks you away with a message; AWAY alone marks you back."),
    "MOTD": ("MOTD", "Shows the message of the day."),
    "LUSERS": ("LUSERS", "Counts the users and channels."),
    "VERSION": ("VERSION", "Shows the server's version and what it supports."),
    "TIME": ("TIME", "Shows the server's local time."),
    "INFO": ("INFO", "Tells about the server software."),
    "LINKS": ("LINKS [<server mask>]", "Lists the servers of the network: this one only."),
    "HELP": ("HELP [<command>]", "Shows the commands, or help on one of them. HELPOP is the same."),
    "HELPOP": ("HELPOP [<command>]", "The same as HELP."),
    "OPER": ("OPER <name> <password>", "Logs in as a server operator (the teacher)."),
    "KILL": ("KILL <nick> [:<reason>]", "Operators: disconnects a user."),
    "ENDLESSON": ("ENDLESSON [:<message>]",
                  "Operators: ends the lesson, disconnecting everyone but the operators."),
    "MODE": ("MODE <nick> [+|-modes] | MODE <#channel> [+|-modes [parameters]]",
             "Shows or changes your user modes or a channel's modes: see HELP USERMODES and HELP CHANMODES."),
    "CHATHISTORY": ("CHATHISTORY LATEST|BEFORE|AFTER|AROUND|BETWEEN|TARGETS ...",
                    "Reads the stored history of a channel or conversation (IRCv3 draft/chathistory)",
                    "when the server keeps history."),
    "MONITOR": ("MONITOR + <nick>{,<nick>} | MONITOR - <nick>{,<nick>} | MONITOR C | MONITOR L | MONITOR S",
                "Tells you when nicks come online (730) or go offline (731): + adds, - removes,",
                "C clears the list, L lists it, S shows who is online. At most 100 nicks."),
    "SETNAME": ("SETNAME :<real name>", "Changes your real name (IRCv3 setname), at most 128 characters."),
    "USERMODES": ("MODE <yournick> +|-<modes>",
                  "i: invisible (hidden from WHO masks and NAMES of channels you do not share)",
                  "B: a bot (messages carry the bot tag; WHOIS says so)",
                  "o: server operator (given by OPER; MODE <nick> -o drops it)"),
    "CHANMODES": ("MODE <#channel> +|-<modes> [parameters]",
                  "o <nick>: channel operator; v <nick>: voice (may speak under +m)",
                  "m: moderated; n: no messages from outside; t: only operators set the topic",
                  "i: invitation only; k <key>: a password; l <number>: a member limit",
                  "b <mask>: ban; q <mask>: mute; U: members' messages go to the operators only"),
}

TOPIC_NAMES = ("USERMODES", "CHANMODES")  # topics that are not commands
