"""Roles and what each may read and write: the one data policy of gridmap.

Every request, CLI command and export runs for an :class:`Access`: who asks (a user name, or
nobody), their role, and for a grid worker the grids they work in. :func:`read_level` says how
a layer is served to them, :func:`may_write` whether they may change it. The web app's route
table (which role may call which URL) is built on the same roles; masking itself is
:mod:`gridmap.access.privacy`.

Roles
-----
``admin``
    Users and settings; every layer, personal data unmasked (each such read is audited).
``planner``
    Grids: draws and edits them, edits facilities and cameras. The register masked.
``patrol_lead``
    Patrol plans and checkpoints; edits facilities, cameras and incidents. The register masked.
``grid_worker``
    The register, visits and incidents of their own grids only, unmasked (audited); nothing at
    all of other grids' register. The base layers of the whole area.
``analyst``
    Figures and exports; the register masked.
anonymous
    Nobody signed in: only layers without personal data that an admin opened
    (:data:`PUBLIC_LAYERS_KEY`; none by default), never the register.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from gridmap.errors import InputError
from gridmap.schema import LAYERS, get_layer

ADMIN = "admin"
PLANNER = "planner"
PATROL_LEAD = "patrol_lead"
GRID_WORKER = "grid_worker"
ANALYST = "analyst"
#: The role of a request nobody signed in to (not an account role).
ANONYMOUS = "anonymous"

#: The roles an account can have, most trusted first.
ROLES: tuple[str, ...] = (ADMIN, PLANNER, PATROL_LEAD, GRID_WORKER, ANALYST)
#: Every role a request can have: the account roles and anonymous.
ALL_ROLES: tuple[str, ...] = (*ROLES, ANONYMOUS)

#: Role names for people, (English, Chinese).
ROLE_TITLES: dict[str, tuple[str, str]] = {
    ADMIN: ("Administrator", "管理员"),
    PLANNER: ("Grid planner", "网格规划员"),
    PATROL_LEAD: ("Patrol lead", "巡逻负责人"),
    GRID_WORKER: ("Grid worker", "网格员"),
    ANALYST: ("Analyst", "分析员"),
    ANONYMOUS: ("Not signed in", "未登录"),
}

#: The workspace setting (a list of layer names) that opens layers to anonymous readers.
PUBLIC_LAYERS_KEY = "public_layers"

#: The register: layers about households and people. Never anonymous; a grid worker gets only
#: the rows of their own grids.
REGISTER_LAYERS: frozenset[str] = frozenset({"households", "people", "visits", "incidents"})

#: Layers without personal columns whose figures come from the register (residents per
#: building): served masked (see :mod:`gridmap.access.privacy`) to everyone but the admin,
#: grid workers (whose register ends at their grids) and anonymous readers included.
DERIVED_LAYERS: frozenset[str] = frozenset({"buildings"})

#: Layers changed through gridmap's write API, and the roles that may change each. A grid
#: worker changes only rows of their own grids.
WRITERS: dict[str, frozenset[str]] = {
    "grids": frozenset({ADMIN, PLANNER}),
    "facilities": frozenset({ADMIN, PLANNER, PATROL_LEAD}),
    "cameras": frozenset({ADMIN, PLANNER, PATROL_LEAD}),
    "households": frozenset({ADMIN, GRID_WORKER}),
    "people": frozenset({ADMIN, GRID_WORKER}),
    "visits": frozenset({ADMIN, GRID_WORKER}),
    "incidents": frozenset({ADMIN, PATROL_LEAD, GRID_WORKER}),
}
#: The layers of the write API.
EDITABLE_LAYERS: tuple[str, ...] = tuple(WRITERS)


class Level(enum.Enum):
    """How a layer is served to someone."""

    #: Every row, personal data unmasked.
    FULL = "full"
    #: Only the rows of the reader's own grids, unmasked (grid workers and the register).
    OWN = "own"
    #: Every row in the masked view of :mod:`gridmap.access.privacy`.
    MASKED = "masked"
    #: Nothing: the layer is refused (401 for nobody, 403 for the wrong role).
    NONE = "none"


@dataclass(frozen=True)
class Access:
    """Who is asking: a user (None: nobody signed in), their role, a grid worker's grids.

    Parameters
    ----------
    user
        The account name, or None for an anonymous request.
    role
        One of :data:`ALL_ROLES`.
    grids
        The grid codes a grid worker works in (empty for other roles).
    public_layers
        For anonymous requests: the layers an admin opened to them.
    account
        What tells this account from an earlier one of the same name (its creation time):
        what belongs to an account (its background jobs) is kept under :attr:`owner`.
    """

    user: str | None
    role: str
    grids: frozenset[str] = frozenset()
    public_layers: frozenset[str] = frozenset()
    account: str = ""

    def __post_init__(self) -> None:
        if self.role not in ALL_ROLES:
            raise InputError(f"Unknown role '{self.role}'; roles: {', '.join(ROLES)}.")
        if (self.user is None) != (self.role == ANONYMOUS):
            raise InputError("An anonymous request has no user, and a user is never anonymous.")

    @property
    def who(self) -> str:
        """Return the name recorded in audit rows: the user, or ``anonymous``."""
        return self.user or ANONYMOUS

    @property
    def owner(self) -> str:
        """Return the key of what belongs to this account (a removed namesake's is not it)."""
        return f"{self.who}#{self.account}" if self.account else self.who

    @property
    def signed_in(self) -> bool:
        """Return whether a user is signed in."""
        return self.user is not None

    @property
    def personal(self) -> bool:
        """Return whether this reader sees personal data unmasked in some layer."""
        return self.role in (ADMIN, GRID_WORKER)

    @classmethod
    def anonymous(cls, public_layers: Iterable[str] = ()) -> Access:
        """Return the access of a request nobody signed in to."""
        return cls(None, ANONYMOUS, public_layers=frozenset(public_layers))

    @classmethod
    def of(cls, user: str, role: str, grids: Iterable[str] = (), account: str = "") -> Access:
        """Return the access of a signed-in user."""
        kept = frozenset(grids) if role == GRID_WORKER else frozenset()
        return cls(user, role, grids=kept, account=account)


def read_level(access: Access, layer: str) -> Level:
    """Return how ``layer`` is served to ``access`` (an unknown layer raises LayerNotFoundError)."""
    schema = get_layer(layer)
    if access.role == ANONYMOUS:
        if layer in access.public_layers and not schema.has_personal_data:
            return Level.MASKED if layer in DERIVED_LAYERS else Level.FULL
        return Level.NONE
    if layer in DERIVED_LAYERS:  # a grid worker too: the area's residents are not their grids'
        return Level.FULL if access.role == ADMIN else Level.MASKED
    if layer not in REGISTER_LAYERS and not schema.has_personal_data:
        return Level.FULL
    if access.role == ADMIN:
        return Level.FULL
    if access.role == GRID_WORKER:
        return Level.OWN
    return Level.MASKED


def readable_layers(access: Access) -> list[str]:
    """Return the layers ``access`` may read at all, in catalogue order."""
    return [name for name in LAYERS if read_level(access, name) is not Level.NONE]


def may_write(access: Access, layer: str) -> bool:
    """Return whether ``access`` may change features of ``layer`` (grid workers: own grids)."""
    get_layer(layer)
    return access.role in WRITERS.get(layer, frozenset())


def audited(access: Access, layer: str) -> bool:
    """Return whether a read of ``layer`` by ``access`` shows personal data unmasked.

    Every such read and export writes a row to the workspace's access log.
    """
    return get_layer(layer).has_personal_data and read_level(access, layer) in (
        Level.FULL,
        Level.OWN,
    )


def openable_layers() -> list[str]:
    """Return the layers an admin may open to anonymous readers (no personal data)."""
    return [
        name
        for name, layer in LAYERS.items()
        if name not in REGISTER_LAYERS and not layer.has_personal_data
    ]


def check_role(role: str) -> str:
    """Return ``role`` if it is an account role, else raise a clear InputError."""
    if role not in ROLES:
        raise InputError(f"Unknown role '{role}'; roles: {', '.join(ROLES)}.")
    return role
