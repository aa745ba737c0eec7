"""Resource facades: ``client.contacts.user(...)`` and friends.

``_async/`` is the source; ``_sync/`` is generated from it by ``scripts/unasync.py`` (CI checks
it is current). Each method is one line over a request builder in :mod:`dingkit.resources`.
"""
