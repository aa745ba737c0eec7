"""Stream mode (§8.2): DingTalk's side of the WebSocket an app opens to receive robot
messages and events without a public URL.

    tickets.py   connection tickets (90 s, one connection each)
    frames.py    downstream frames and the client's ACKs, as data
    hub.py       StreamHub: open connections per app and delivery (push_callback,
                 push_event, disconnect), the frame log
    session.py   one WebSocket: reader, writer, pinger
    routes.py    POST /v1.0/gateway/connections/open, the /connect WebSocket, /_sandbox/stream/*

The rest of the sandbox pushes through ``sandbox.stream`` (:class:`.hub.StreamHub`).

The callbacks hub (:mod:`..callbacks.hub`) pushes the organisation's events over Stream to
every app whose ``[[app]]`` says ``events = "stream"`` (the console's push mode), with the
same ``eventId`` its HTTP subscriptions get; the frame's ``data`` is the event's own fields
(:func:`dingkit.callback.stream_events.stream_data_from_plaintext`).
"""
