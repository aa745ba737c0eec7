"""DingTalk server APIs as request builders and typed models: no I/O.

Each module declares its endpoints (:class:`~dingkit._request.Endpoint`) and builds
:class:`~dingkit._request.APIRequest` descriptions and page flows for one product; the
clients (``DingTalk``, ``AsyncDingTalk``) execute them through the facades in
``dingkit._api``, and the sandbox serves the same declarations.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .._request import Endpoint

__all__ = ["all_endpoints"]

#: Modules outside this package that declare endpoints: the token endpoints, the robot
#: webhook and the app robot's session webhook.
_ALSO_DECLARING = ("dingkit._auth", "dingkit.robot.target", "dingkit.robot.session")


def all_endpoints() -> list[Endpoint]:
    """Every endpoint dingkit declares, once each, in module order (imports the modules)."""
    from .._request import Endpoint

    names = [*_ALSO_DECLARING]
    names += [info.name for info in pkgutil.iter_modules(__path__, __name__ + ".")]
    found: dict[int, Endpoint] = {}
    for name in names:
        for value in vars(importlib.import_module(name)).values():
            if isinstance(value, Endpoint):
                found.setdefault(id(value), value)
    return list(found.values())
