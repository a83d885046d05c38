"""The history's blocks (common/server/history_blocks.py): a row per conversation and batch, read back in
(time, id) order whatever the order of the times written, msgids found without a row of their own, and a
history from before blocks (schema 7, and a log written then) moved into them."""
from __future__ import annotations

import json
import random
import sqlite3

import pytest

from common.server.history import SCHEMA_VERSION, Cursor, HistoryStore, StoredMessage, Viewer
from common.server.history_log import HistoryLog
from common.server.history_model import make_msgid, position
from helpers import stored_messages

BASE = 1_700_000_000_000


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "history.sqlite3")


def message(number: int, time_ms: int, target: str = "#c", text: str = "", prefix: str = "abcd") -> StoredMessage:
    return StoredMessage(make_msgid(prefix, number), time_ms, target, "анна!~a@h", "PRIVMSG", text or f"m{number}")


def blocks_of(store: HistoryStore) -> list[tuple]:
    return store.db.execute("SELECT target_key, first_id, last_id, count, in_order FROM message_blocks"
                            " ORDER BY id").fetchall()


def test_a_batch_is_a_block_per_conversation_and_server_msgids_need_no_alias(db):
    store = HistoryStore(db)
    store.write([message(1, BASE, "#a"), message(2, BASE, "#b"), message(3, BASE + 1, "#a")])
    store.write([message(4, BASE + 2, "#a")])
    assert blocks_of(store) == [("#a", 1, 3, 2, 1), ("#b", 2, 2, 1, 1), ("#a", 4, 4, 1, 1)]
    assert store.db.execute("SELECT count(*) FROM message_aliases").fetchone()[0] == 0
    assert store.cursor_for_msgid("#a", make_msgid("abcd", 3)) == Cursor(BASE + 1, 3)
    assert store.cursor_for_msgid("#b", make_msgid("abcd", 3)) is None, "another conversation's message"
    assert store.cursor_for_msgid("#a", make_msgid("other", 3)) is None, "the number alone is not the msgid"
    assert store.cursor_for_msgid("#a", "abcd-99999999999999999999") is None
    assert store.last_row_id() == 4
    store.close()


def test_other_msgids_get_the_next_ids_and_are_found_by_their_alias(db):
    store = HistoryStore(db)
    store.write([message(5, BASE), StoredMessage("no-number-here", BASE + 1, "#c", "a!~a@h", "PRIVMSG", "x"),
                 message(3, BASE + 2)])  # a number already passed: 3 < 6
    assert [m.row_id for m in store.before("#c", None, 10)] == [5, 6, 7]
    assert store.cursor_for_msgid("#c", "no-number-here") == Cursor(BASE + 1, 6)
    assert store.cursor_for_msgid("#c", make_msgid("abcd", 3)) == Cursor(BASE + 2, 7)
    store.close()
    reopened = HistoryStore(db)
    assert reopened.last_row_id() == 7
    assert reopened.cursor_for_msgid("#c", "no-number-here") == Cursor(BASE + 1, 6)
    reopened.close()


def test_reads_agree_with_every_message_sorted_whatever_the_order_of_times(db):
    """Batches to three conversations, some dated before what was stored already (out of order): every
    read, from anywhere and in both directions, returns what sorting all messages by (time, id) gives."""
    rng = random.Random(20261130)
    store = HistoryStore(db)
    written: list[StoredMessage] = []
    number, clock = 1, BASE
    for _ in range(120):
        batch = []
        for _ in range(rng.randint(1, 6)):
            clock += rng.choice((0, 0, 1, 5))
            time_ms = clock - rng.randint(1, 40) if rng.random() < 0.05 else clock  # now and then earlier
            batch.append(message(number, time_ms, rng.choice(("#a", "#b", "#c"))))
            number += 1
        store.write(batch)
        written += batch
    assert any(not in_order for *_, in_order in blocks_of(store)), "the test wrote nothing out of order"
    assert any(in_order for *_, in_order in blocks_of(store))
    for key in ("#a", "#b", "#c"):
        model = sorted((m for m in written if m.target == key), key=position)
        texts = lambda found: [m.text for m in found]
        assert texts(store.before(key, None, 10_000)) == texts(model)
        assert texts(store.export(key)) == texts(model)
        for _ in range(40):
            pick = rng.choice(model)
            cursor = Cursor(pick.time_ms + rng.choice((-1, 0, 0, 1)), rng.choice((pick.row_id, -1, 2 ** 62)))
            limit = rng.randint(1, 30)
            earlier = [m for m in model if position(m) < (cursor.time_ms, cursor.row_id)]
            later = [m for m in model if position(m) > (cursor.time_ms, cursor.row_id)]
            assert texts(store.before(key, cursor, limit)) == texts(earlier[-limit:])
            assert texts(store.after(key, cursor, limit)) == texts(later[:limit])
            assert texts(store.latest_after(key, cursor, limit)) == texts(later[-limit:])
            other = rng.choice(model)
            low, high = sorted([(cursor.time_ms, cursor.row_id), position(other)])
            between = [m for m in model if low < position(m) < high]
            assert texts(store.after(key, Cursor(*low), limit, until=Cursor(*high))) == texts(between[:limit])
            assert texts(store.before(key, Cursor(*high), limit, since=Cursor(*low))) == texts(between[-limit:])
    store.close()


def test_a_read_bound_and_privacy_apply_within_a_block(db):
    store = HistoryStore(db)
    question = StoredMessage(make_msgid("abcd", 2), BASE, "#c", "boris!~b@h2", "PRIVMSG", "a question",
                             ops_only=True)
    store.write([message(1, BASE), question, message(3, BASE)])
    assert [m.text for m in store.before("#c", None, 10, Viewer("анна", "h"))] == ["m1", "m3"]
    assert [m.text for m in store.before("#c", None, 10, Viewer("Boris", "h2"))] == ["m1", "a question", "m3"]
    assert [m.text for m in store.before("#c", None, 10, Viewer("x", "y", privileged=True))] == ["m1", "a question",
                                                                                                  "m3"]
    with store.visible_up_to(2):
        assert [m.text for m in store.before("#c", None, 10)] == ["m1"]
        assert store.cursor_for_msgid("#c", make_msgid("abcd", 3)) is None
    store.close()


def test_deleting_rewrites_the_block_and_retention_cuts_blocks_in_two(db):
    store = HistoryStore(db)
    store.write([message(n, BASE + n) for n in range(1, 6)])
    store.write([message(n, BASE + n) for n in range(6, 9)])
    assert store.delete_messages("#c", {2, 4}) == 2
    assert [m.row_id for m in store.before("#c", None, 10)] == [1, 3, 5, 6, 7, 8]
    assert blocks_of(store) == [("#c", 1, 5, 3, 1), ("#c", 6, 8, 3, 1)]
    assert store.purge_before(BASE + 7) == 4  # 1, 3, 5 and 6
    assert [m.row_id for m in store.before("#c", None, 10)] == [7, 8]
    assert blocks_of(store) == [("#c", 7, 8, 2, 1)]
    assert store.delete_messages("#c", {7, 8, 999}) == 2
    assert blocks_of(store) == [] and store.before("#c", None, 10) == []
    store.close()


LEGACY_SCHEMA = """
CREATE TABLE messages (id INTEGER PRIMARY KEY, msgid TEXT NOT NULL UNIQUE, time_ms INTEGER NOT NULL,
    target_key TEXT NOT NULL, target TEXT NOT NULL, sender TEXT NOT NULL, sender_key TEXT NOT NULL,
    sender_host TEXT NOT NULL, recipient_host TEXT NOT NULL DEFAULT '', command TEXT NOT NULL, text TEXT NOT NULL,
    client_tags TEXT NOT NULL DEFAULT '{}', ops_only INTEGER NOT NULL DEFAULT 0,
    recipient_key TEXT NOT NULL DEFAULT '', sender_account TEXT, recipient_account TEXT);
CREATE TABLE channels (name_key TEXT PRIMARY KEY, name TEXT NOT NULL, created INTEGER NOT NULL,
    topic TEXT NOT NULL DEFAULT '', topic_set_by TEXT NOT NULL DEFAULT '', topic_set_at INTEGER NOT NULL DEFAULT 0,
    modes TEXT NOT NULL DEFAULT 'nt', key TEXT, member_limit INTEGER, bans TEXT NOT NULL DEFAULT '[]',
    quiets TEXT NOT NULL DEFAULT '[]', excepts TEXT NOT NULL DEFAULT '[]', invexes TEXT NOT NULL DEFAULT '[]');
PRAGMA user_version=7;
"""


def test_a_version_7_history_moves_into_blocks_and_keeps_ids_msgids_and_privacy(db):
    """Schema 7 kept a row per message; its row ids become the messages' ids, every msgid is still found
    (a server's msgids then ended in a counter of their own, not the row id), and a server started on it
    numbers new messages after them."""
    legacy = sqlite3.connect(db)
    legacy.executescript(LEGACY_SCHEMA)
    rows = [(f"old-{n % 7}x{n}", BASE + n, "#класс", "#Класс", "анна!~a@h1", "анна", "h1", "", "PRIVMSG",
             f"старое {n}", "{}", 0, "", None, None) for n in range(600)]
    rows.append(("old-private", BASE + 600, "dm:анна:борис", "Борис", "анна!~a@h1", "анна", "h1", "h2",
                 "PRIVMSG", "лично", json.dumps({"+draft/reply": "old-0x0"}), 0, "борис", "anna", None))
    legacy.executemany("INSERT INTO messages (msgid, time_ms, target_key, target, sender, sender_key, sender_host,"
                       " recipient_host, command, text, client_tags, ops_only, recipient_key, sender_account,"
                       " recipient_account) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    legacy.commit()
    legacy.close()
    store = HistoryStore(db)
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 8
    assert not store.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'messages'").fetchone()
    assert [count for *_, count, _ in blocks_of(store)] == [256, 256, 88, 1]
    assert [m.text for m in store.export("#класс")] == [f"старое {n}" for n in range(600)]
    assert store.cursor_for_msgid("#класс", "old-3x3") == Cursor(BASE + 3, 4)
    assert store.cursor_for_msgid("#класс", "old-3x10") == Cursor(BASE + 10, 11)
    private = store.before("dm:анна:борис", None, 5, Viewer("Борис", "h2"))
    assert [(m.text, m.client_tags, m.sender_account) for m in private] == [("лично", {"+draft/reply": "old-0x0"},
                                                                               "anna")]
    assert store.before("dm:анна:борис", None, 5, Viewer("Борис", "elsewhere")) == []
    assert store.last_row_id() == 601
    store.write([message(602, BASE + 700, "#Класс", "новое")])
    assert [m.text for m in store.before("#класс", None, 2)] == ["старое 599", "новое"]
    store.close()


def test_a_log_written_before_blocks_is_stored_at_the_next_start(db):
    """A crash under schema 7 left message rows in the log (nine values for a plain message, fifteen for
    the rest): the next start makes them blocks after what is stored."""
    store = HistoryStore(db)
    store.write([message(1, BASE, text="stored")])
    store.close()
    log = HistoryLog(db + "-log")
    plain = ("old-1", BASE + 1, "#c", "#c", "анна!~a@h", "анна", "h", "PRIVMSG", "from the old log")
    private = ("old-2", BASE + 2, "dm:анна:борис", "Борис", "анна!~a@h", "анна", "h", "h2", "PRIVMSG", "лично",
               "{}", 0, "борис", None, None)
    log.append(HistoryLog.encode(([plain, private], [], [])))
    log.close()
    reopened = HistoryStore(db)
    assert [m.text for m in reopened.before("#c", None, 5)] == ["stored", "from the old log"]
    assert [m.text for m in reopened.before("dm:анна:борис", None, 5, Viewer("борис", "h2"))] == ["лично"]
    assert reopened.cursor_for_msgid("#c", "old-1") == Cursor(BASE + 1, 2)
    assert [m.row_id for m in stored_messages(reopened.db)] == [1, 2, 3]
    reopened.close()
