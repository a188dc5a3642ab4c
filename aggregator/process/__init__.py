"""Pure processing of entries: which story an entry joins and where a story is filed.

No I/O, no SQL, no clock: time comes in as arguments. ``stories`` groups entries
of different source feeds that report one event; ``sections`` files a story by
the evidence of all its reports.
"""
