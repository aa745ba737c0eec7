"""DingTalk server APIs as request builders and typed models: no I/O.

Each module builds :class:`~dingkit._request.APIRequest` descriptions and page flows for one
product; the clients (``DingTalk``, ``AsyncDingTalk``) execute them through the facades in
``dingkit._api``.
"""
