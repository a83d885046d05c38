"""Command-line options both clients share: trusting a server certificate by its fingerprint, and the
default nickname made from the login name."""
from __future__ import annotations

import argparse
import getpass

from common.protocol.casemap import NICK_SPECIALS
from common.protocol.tls import normalize_fingerprint


def add_tls_pin_argument(parser: argparse.ArgumentParser) -> None:
    """``--tls-pin``, shared by both clients: trust a self-signed server certificate by its fingerprint."""
    parser.add_argument("--tls-pin", type=pin_argument, metavar="SHA256",
                        help="connect with TLS and trust exactly the certificate with this SHA-256 fingerprint "
                             "(the server prints it at start); for a self-signed certificate")


def pin_argument(text: str) -> str:
    try:
        return normalize_fingerprint(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not a certificate fingerprint: {error}") from None


def default_nick() -> str:
    """The login name made into a valid nick (the clients' default): other characters dropped, and a
    "u" in front when it would start with a digit or '-'; "guest" when nothing is left."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = ""
    nick = "".join(char for char in name if char.isalnum() or char in NICK_SPECIALS)[:30]
    if not nick:
        return "guest"
    return nick if not (nick[0].isdigit() or nick[0] == "-") else f"u{nick}"[:30]
