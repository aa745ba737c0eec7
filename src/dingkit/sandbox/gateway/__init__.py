"""DingTalk's gateways in the sandbox: what happens to a server-API call before a concept's
rule runs (token, method, limits, failure modes, reading the body) and how each family
answers (:mod:`.answers`). Routes are registered from the endpoints' declarations in
``dingkit.resources`` (:meth:`.pipeline.Gateway.routes`); fields are read with :mod:`.params`.
"""
