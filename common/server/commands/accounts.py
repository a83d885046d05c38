"""Logging in and creating accounts: SASL PLAIN (``AUTHENTICATE``, IRCv3 sasl 3.2) and ``REGISTER`` (IRCv3
draft/account-registration), and what a login changes: the account on the client, a teacher's operator
status, ``account-notify`` to the peers who asked for it.

Each command has two steps. The slow one (a password check, a database write) runs on the client's reader
thread before the state lock is taken (``CommandSpec.outside_lock``): ``check_authenticate`` and
``create_account``. Their result reaches the handler, which runs under the lock, as ``req.prepared``. The
SASL exchange itself (the mechanism, the base64 pieces received so far) lives on the ``Client`` and is
only ever touched by that client's reader thread, in both steps.
"""
from __future__ import annotations

import base64
import binascii

from common.protocol import numerics as rpl
from common.protocol.casemap import casefold
from common.protocol.message import Message
from common.server.accounts import Account, AccountError, LoginResult
from common.server.commands.base import Request, ServerServices, server_message, user_message
from common.server.state import Client

SASL_CHUNK = 400  # AUTHENTICATE carries base64 in pieces of 400 bytes; a shorter piece (or "+") ends it
MAX_SASL_BYTES = 2000  # PLAIN needs a name and a password: far less than this


# ------------------------------------------------------------------ SASL

def sasl_payload(client: Client, piece: str) -> str | None:
    """The whole base64 payload once ``piece`` completes it, else None (more pieces to come)."""
    if piece == "+":
        return client.sasl_buffer
    if len(piece) == SASL_CHUNK:
        return None
    return client.sasl_buffer + piece


def check_authenticate(server: ServerServices, client: Client, msg: Message) -> LoginResult | None:
    """AUTHENTICATE's slow step: when this piece completes a PLAIN payload, check the password (and wait
    out the delay a wrong one earns). None when there is nothing to check."""
    accounts = server.accounts
    piece = msg.params[0]
    if accounts is None or client.sasl_mechanism != "PLAIN" or piece == "*" or len(piece) > SASL_CHUNK:
        return None
    payload = sasl_payload(client, piece)
    if payload is None or len(payload) > MAX_SASL_BYTES:
        return None
    credentials = decode_plain(payload)
    if credentials is None:
        return LoginResult(None)
    result = accounts.check_login(*credentials)
    if result.delay:
        server.pause(result.delay)
    return result


def decode_plain(payload: str) -> tuple[str, str] | None:
    """SASL PLAIN (RFC 4616): ``authzid NUL authcid NUL password``; (account, password) or None. We accept
    an authzid only when it is empty or the same account (nobody logs in on someone else's behalf)."""
    try:
        fields = base64.b64decode(payload, validate=True).decode("utf-8").split("\0")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if len(fields) != 3 or not fields[1] or (fields[0] and casefold(fields[0]) != casefold(fields[1])):
        return None
    return fields[1], fields[2]


def handle_authenticate(req: Request, msg: Message) -> None:
    client, piece = req.client, msg.params[0]
    if req.server.accounts is None:
        req.reply(rpl.ERR_UNKNOWNCOMMAND, "AUTHENTICATE", "Unknown command")
        return
    if piece == "*":
        reset_sasl(client)
        req.reply(rpl.ERR_SASLABORTED, "SASL authentication aborted")
        return
    if client.account is not None:
        req.reply(rpl.ERR_SASLALREADY, "You have already authenticated using SASL")
        return
    if client.sasl_mechanism is None:
        if piece.upper() != "PLAIN":
            req.reply(rpl.RPL_SASLMECHS, "PLAIN", "are available SASL mechanisms")
            req.reply(rpl.ERR_SASLFAIL, "SASL authentication failed")
            return
        client.sasl_mechanism = "PLAIN"
        req.out.send(client, Message("AUTHENTICATE", ["+"]))
        return
    if len(piece) > SASL_CHUNK:
        reset_sasl(client)
        req.reply(rpl.ERR_SASLTOOLONG, "SASL message too long")
        return
    payload = sasl_payload(client, piece)
    if payload is None:
        client.sasl_buffer += piece
        if len(client.sasl_buffer) > MAX_SASL_BYTES:
            reset_sasl(client)
            req.reply(rpl.ERR_SASLTOOLONG, "SASL message too long")
        return
    reset_sasl(client)
    result: LoginResult | None = req.prepared
    if result is None or result.account is None:
        why = "this account is locked for a minute after too many wrong passwords" if result and result.locked \
            else "wrong account name or password"
        req.reply(rpl.ERR_SASLFAIL, f"SASL authentication failed: {why}")
        req.server.log_event(f"refused: login ({why})", client)
        return
    log_in(req, result.account)
    req.reply(rpl.RPL_SASLSUCCESS, "SASL authentication successful")


def reset_sasl(client: Client) -> None:
    client.sasl_mechanism = None
    client.sasl_buffer = ""


def log_in(req: Request, account: Account) -> None:
    """The client is now ``account``: 900, its peers with account-notify hear it, and a teacher is an
    operator from now on (no OPER needed)."""
    client = req.client
    client.account = account.name
    client.is_teacher = account.is_teacher
    req.reply(rpl.RPL_LOGGEDIN, client.prefix, account.name, f"You are now logged in as {account.name}")
    notice = user_message(client, "ACCOUNT", account.name)
    req.out.relay([peer for peer in req.state.peers_of(client) if "account-notify" in peer.caps], notice)
    if account.is_teacher and not client.is_oper:
        req.state.set_user_mode(client, "o", True)
        if client.registered:
            announce_teacher(req)
    req.server.log_event(f"logged in as {account.name}" + (" (teacher)" if account.is_teacher else ""), client)


def announce_teacher(req: Request) -> None:
    """Tell a teacher's client that it has the operator's powers (at login, or at the end of registration)."""
    client = req.client
    req.out.send(client, user_message(client, "MODE", client.nick, "+o"))
    req.reply(rpl.RPL_YOUREOPER, "You are signed in as a teacher")


# ------------------------------------------------------------------ REGISTER

def create_account(server: ServerServices, client: Client, msg: Message) -> Account | AccountError:
    """REGISTER's slow step: check who may create which account, then hash the password and write it."""
    accounts = server.accounts
    if accounts is None:
        return AccountError("TEMPORARILY_UNAVAILABLE", "This server keeps no accounts")
    name, password = registration_name(client, msg.params[0]), msg.params[2]
    policy = server.config.registration
    by_teacher = client.is_teacher or client.is_oper
    if policy == "closed" or (policy == "teacher" and not by_teacher):
        return AccountError("DISALLOWED", "Only the teacher creates accounts on this server"
                            if policy == "teacher" else "Accounts are created by the server's administrator")
    if client.account is not None and not by_teacher:
        return AccountError("ALREADY_AUTHENTICATED", f"You are already logged in as {client.account}")
    if name == "*":
        return AccountError("NEED_NICK", "Choose a nickname first")
    if not by_teacher and casefold(name) != casefold(client.nick):
        return AccountError("ACCOUNT_NAME_MUST_BE_NICK", "Your account is named after your nickname")
    try:
        return accounts.create(name, password)
    except AccountError as error:
        return error


def registration_name(client: Client, asked: str) -> str:
    return client.nick if asked == "*" else asked


def handle_register(req: Request, msg: Message) -> None:
    client = req.client
    name = registration_name(client, msg.params[0])
    result = req.prepared
    if isinstance(result, AccountError):
        req.out.send(client, server_message(req, "FAIL", "REGISTER", result.code, name, str(result)))
        return
    account: Account = result
    if client.account is None and casefold(account.name) == casefold(client.nick):
        req.out.send(client, server_message(req, "REGISTER", "SUCCESS", account.name, "Account created"))
        log_in(req, account)
    else:  # a teacher made an account for a student
        req.out.send(client, server_message(req, "REGISTER", "SUCCESS", account.name,
                                            f"Account {account.name} created; its owner logs in with it"))
    if client.is_oper:
        req.server.audit(client, "register", account.name)
    else:
        req.server.log_event(f"created the account {account.name}", client)
