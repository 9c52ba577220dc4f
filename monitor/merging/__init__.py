"""From partition shares to drift events: pure, no I/O.

Merging every partition's share of a window and judging the window once, the hysteresis and
cooldown policy that turns verdicts into drift events, and the bookkeeping of partials
offsets a stream stepped over. State lives in any ``MutableMapping`` the caller passes (a
faust table in the worker, a dict in tests).
"""
