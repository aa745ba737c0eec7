"""Stream mode (§8.2): DingTalk's side of the WebSocket an app opens to receive robot
messages and events without a public URL.

    tickets.py   connection tickets (90 s, one connection each)
    frames.py    downstream frames and the client's ACKs, as data
    hub.py       StreamHub: open connections per app and delivery (push_callback,
                 push_event, disconnect), the frame log
    session.py   one WebSocket: reader, writer, pinger
    routes.py    POST /v1.0/gateway/connections/open, the /connect WebSocket, /_sandbox/stream/*

The rest of the sandbox pushes through ``sandbox.stream`` (:class:`.hub.StreamHub`). The
callbacks hub (:mod:`..callbacks.hub`) still delivers event subscriptions over HTTP only:
an app connected by Stream is not yet sent its events that way; the seam is
``sandbox.stream.push_event(app_key, event_type, data, event_id=..., corp_id=...)``, called
where the hub queues an app-level subscription's push.
"""
