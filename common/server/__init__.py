"""The classchat IRC server: the listener and its threads (``server``), its settings (``config``), the shared
state under one lock (``state``), connections and their bounded outbound buffers (``connection``), the rate
limits (``limits``), what a command decides to send (``outbox``), the thread that stores then delivers
(``sequencer``), the SQLite history (``history``, stored through its log: ``history_log``) and the reads of
it that the sequencer runs (``history_reads``, with ``reactions`` and the deletions of ``redactions``),
operator passwords (``passwords``), log escaping (``logs``), and the commands, one module per family
(``commands``). It imports ``common.protocol`` and nothing of the clients.
docs/architecture.md follows one message through these modules."""
