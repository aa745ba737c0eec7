"""Stream mode (§8.2): DingTalk's side of the WebSocket an app opens to receive robot
messages and events without a public URL.

    tickets.py   connection tickets (90 s, one connection each)
    frames.py    downstream frames and the client's ACKs, as data
    hub.py       StreamHub: open connections per app and delivery (push_callback,
                 push_event, disconnect), the frame log
    session.py   one WebSocket: reader, writer, pinger
    routes.py    POST /v1.0/gateway/connections/open, the /connect WebSocket, /_sandbox/stream/*

The rest of the sandbox pushes through ``sandbox.stream`` (:class:`.hub.StreamHub`).

Not yet joined: the callbacks hub (:mod:`..callbacks.hub`) delivers event subscriptions over
HTTP only, also to an app connected by Stream. The seam is ``CallbackHub._emit``: for an
app-level subscription whose app has a Stream connection subscribed to events, call
``sandbox.stream.push_event(app_key, event_type, data, event_id=event_id,
corp_id=corp_id, born_ms=now)`` instead of queueing the HTTP push, with ``data`` the
event's own fields (camelCase, without the HTTP plaintext's ``EventType``, §8.2), and the
same ``event_id`` the HTTP subscriptions get.
"""
