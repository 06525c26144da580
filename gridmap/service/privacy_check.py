"""Run the masked-view attack on a workspace's own register (``gridmap privacy``).

The masked views (:mod:`gridmap.access.privacy`) were measured on the demo's synthetic
register; a street office's real register has correlations the generator lacks. :func:`check`
repeats that measurement on any workspace: it serves the register to each masked role exactly
as gridmap serves it (:func:`gridmap.access.privacy.present`, the buildings' masked view, the
figures of :mod:`gridmap.service.figures`), joins what it was served the way an attacker would
(:func:`gridmap.access.linkage.household_clues`), and tries to guess every hidden flag of the
households with cross-validated classifiers (:func:`gridmap.access.disclosure.attack`).

A flag passes when the best held-out AUC stays below its bound (0.5 + max(4 null sd, 0.03))
and no guess beats always giving the commoner answer by more than
:data:`gridmap.access.disclosure.ACCURACY_MARGIN`. A flag with fewer than
:data:`MIN_ROWS` households on either side is not judged. The ids each view is served, and
the order of its rows, are attacked too (:mod:`gridmap.service.privacy_order`: a visit's
household, a household's room). tests/test_privacy.py proves the demo with the same functions.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from gridmap.access import disclosure, linkage, privacy
from gridmap.access.roles import ROLES, Access, Level, read_level
from gridmap.errors import InputError
from gridmap.schema import VISIT_CATEGORIES, get_layer
from gridmap.schema.titles import CHOICE_TITLES
from gridmap.service import privacy_order
from gridmap.service.figures import category_figures, register_figures
from gridmap.store import Workspace

#: The household flags the masked views hide.
PERSONAL_FLAGS: tuple[str, ...] = ("hardship", "elderly_alone", "disabled", "assisted")
#: Every flag attacked: the four personal ones, and a visit of each of the six categories.
FLAGS: tuple[str, ...] = (*PERSONAL_FLAGS, *(f"a {c} visit" for c in VISIT_CATEGORIES))
#: A flag held by fewer households than this (or missing from fewer) is not judged.
MIN_ROWS = 20
#: The layers the attacker's inputs are built from.
LAYERS: tuple[str, ...] = ("households", "people", "visits", "buildings", "grids")

PASS = "pass"
FAIL = "fail"
NOT_JUDGED = "not enough rows to judge"

#: The user name of the masked readers the check serves the register to.
CHECK_USER = "privacy-check"


def flag_title(flag: str) -> tuple[str, str]:
    """Return a flag's title for people, (English, Chinese)."""
    if flag in PERSONAL_FLAGS:
        column = get_layer("households").column(flag)
        return flag.replace("_", " "), column.zh
    category = flag.removeprefix("a ").removesuffix(" visit")
    en, zh = CHOICE_TITLES["visits.category"][category]
    return f"a visit: {en.lower()}", f"走访：{zh}"


def masked_roles() -> tuple[str, ...]:
    """Return the account roles that get the register's masked view (planner, patrol lead, …)."""
    return tuple(
        r for r in ROLES if read_level(Access.of(CHECK_USER, r), "households") is Level.MASKED
    )


def read_register(ws: Workspace) -> dict[str, pd.DataFrame]:
    """Return the stored rows of :data:`LAYERS` (no system columns; EPSG:4326)."""
    return {name: ws.read(name, system=False) for name in LAYERS}


def _flag(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(False, index=frame.index)
    return frame[column].astype("boolean").fillna(False).astype(bool)


def hidden_flags(households: pd.DataFrame, visits: pd.DataFrame) -> dict[str, pd.Series]:
    """Return every flag of :data:`FLAGS` per stored household (index of ``households``).

    The four personal flags are the household's own columns (missing counts as no); ``a
    <category> visit`` says whether the household had a visit of that category.
    """
    out = {f: _flag(households, f) for f in PERSONAL_FLAGS}
    ids = households["household_id"] if "household_id" in households.columns else None
    for category in VISIT_CATEGORIES:
        if ids is None or not {"category", "household_id"} <= set(visits.columns):
            out[f"a {category} visit"] = pd.Series(False, index=households.index)
            continue
        had = set(visits.loc[visits["category"] == category, "household_id"])
        out[f"a {category} visit"] = ids.isin(had)
    return out


@dataclass(frozen=True)
class Served:
    """What one reader is served of the register: the attacker's inputs.

    Attributes
    ----------
    households, people, visits
        The register layers as served (geometry in EPSG:4326 where the view has one).
    buildings
        The buildings layer as the reader gets it.
    figures
        Figures the reader gets, keyed by the column that keys them (``grid_code``,
        ``community_code``); see :func:`gridmap.access.linkage.household_clues`.
    grids
        The grids layer (``code``, ``community_code``), served to every role as it is.
    ids
        Per layer, the ids the reader is served, in the order of a reply (indexed by stored id,
        as the frames are: the checker knows which row is which, the reader only these ids).
    """

    households: pd.DataFrame
    people: pd.DataFrame
    visits: pd.DataFrame
    buildings: pd.DataFrame
    figures: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    grids: pd.DataFrame | None = None
    ids: Mapping[str, pd.Series] = field(default_factory=dict)

    def frames(self) -> dict[str, pd.DataFrame]:
        """Return the served layers by name."""
        return {n: getattr(self, n) for n in ("households", "people", "visits", "buildings")}

    def same_as(self, other: Served) -> bool:
        """Return whether ``other`` holds exactly the same rows, columns, ids and figures."""
        mine, theirs = self.frames(), other.frames()
        if any(not mine[n].equals(theirs[n]) for n in mine):
            return False
        if set(self.ids) != set(other.ids) or any(
            not self.ids[k].equals(other.ids[k]) for k in self.ids
        ):
            return False
        if set(self.figures) != set(other.figures):
            return False
        return all(self.figures[k].equals(other.figures[k]) for k in self.figures)


def served_register(
    ws: Workspace, stored: Mapping[str, pd.DataFrame], access: Access, *, today: date
) -> Served:
    """Return the register as ``access`` is served it: masked views, buildings and figures.

    ``stored`` holds the layers of :func:`read_register`; ``today`` is the day ages in the
    figures are counted on.
    """
    grids = stored["grids"]
    layers = ("households", "people", "visits", "buildings")
    shown = {name: privacy.present(stored[name], name, access) for name in layers}
    return Served(
        **shown,
        figures={
            "grid_code": register_figures(ws, access, today=today),
            "community_code": category_figures(ws, access),
        },
        grids=pd.DataFrame(grids.drop(columns="geometry", errors="ignore")),
        ids={n: privacy_order.served_ids(ws, n, access, shown[n]) for n in layers},
    )


def clues(served: Served, *, today: date) -> pd.DataFrame:
    """Return the attacker's clues per served household (:func:`linkage.household_clues`)."""
    return linkage.household_clues(
        served.households,
        served.people,
        served.visits,
        served.buildings,
        today=today,
        figures=dict(served.figures),
        grids=served.grids,
    )


@dataclass(frozen=True)
class FlagResult:
    """The verdict on one hidden flag.

    ``auc``, ``bound``, ``accuracy``, ``majority``, ``best`` and the clue fields are None when
    the flag was not judged. ``clue`` is the feature that tells most on its own, ``clue_auc``
    its AUC alone, ``clue_source`` the served columns it comes from (given for every judged
    flag; worth reading where the verdict is ``fail``).
    """

    flag: str
    en: str
    zh: str
    positives: int
    rows: int
    verdict: str
    auc: float | None = None
    bound: float | None = None
    accuracy: float | None = None
    majority: float | None = None
    z: float | None = None
    best: str | None = None
    clue: str | None = None
    clue_auc: float | None = None
    clue_source: str | None = None


@dataclass(frozen=True)
class GroupSizes:
    """k-anonymity of one masked view.

    ``by``: the quasi-identifiers. For ``visits``, ``k`` is the fewest households a visit could
    be of (those sharing the visit's served link to households: its grid), and
    ``unique_share`` the share of visits that point at one household only.
    """

    view: str
    by: tuple[str, ...]
    rows: int
    k: int
    unique_share: float
    groups: int


@dataclass(frozen=True)
class RoleCheck:
    """The check of one masked view and the roles that are served it."""

    roles: tuple[str, ...]
    flags: tuple[FlagResult, ...]
    groups: tuple[GroupSizes, ...]
    orders: tuple[privacy_order.OrderCheck, ...] = ()

    @property
    def failed(self) -> list[FlagResult]:
        """Return the flags that can be read back."""
        return [f for f in self.flags if f.verdict == FAIL]

    @property
    def failed_orders(self) -> list[privacy_order.OrderCheck]:
        """Return the orders the served ids or rows give away."""
        return [o for o in self.orders if o.verdict == privacy_order.FAIL]


@dataclass(frozen=True)
class PrivacyReport:
    """What :func:`check` found: the register's size and one :class:`RoleCheck` per view."""

    workspace: str
    today: date
    households: int
    people: int
    visits: int
    checks: tuple[RoleCheck, ...]
    seconds: float

    @property
    def failed(self) -> list[tuple[tuple[str, ...], FlagResult]]:
        """Return ``(roles, flag)`` for every flag some masked view gives away."""
        return [(c.roles, f) for c in self.checks for f in c.failed]

    @property
    def passed(self) -> bool:
        """Return whether no flag and no order can be read back (those not judged do not fail)."""
        return not self.failed and not any(c.failed_orders for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain JSON-ready data (no NaN: missing is None)."""

        def clean(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: clean(v) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return [clean(v) for v in value]
            if isinstance(value, float) and not math.isfinite(value):
                return None
            if isinstance(value, date):
                return value.isoformat()
            return value

        out = clean(asdict(self))
        out["passed"] = self.passed
        return dict(out)


def _judge(flag: str, y: pd.Series, table: pd.DataFrame) -> FlagResult:
    en, zh = flag_title(flag)
    positives, rows = int(y.sum()), len(y)
    if min(positives, rows - positives) < MIN_ROWS:
        return FlagResult(flag, en, zh, positives, rows, NOT_JUDGED)
    r = disclosure.attack(table, y.loc[table.index], flag=flag)
    strongest = r.strongest
    return FlagResult(
        flag,
        en,
        zh,
        positives,
        rows,
        FAIL if r.read_back else PASS,
        auc=r.auc,
        bound=r.bound,
        accuracy=r.accuracy,
        majority=r.majority,
        z=r.z,
        best=r.best,
        clue=strongest[0] if strongest else None,
        clue_auc=strongest[1] if strongest else None,
        clue_source=linkage.clue_source(strongest[0]) if strongest else None,
    )


def attack_flags(
    served: Served,
    flags: Mapping[str, pd.Series],
    *,
    today: date,
    progress: Callable[[str], None] | None = None,
) -> list[disclosure.AttackResult]:
    """Return the attack on every flag of ``flags`` from what ``served`` holds (all judged)."""
    table = clues(served, today=today)
    out = []
    for name, y in flags.items():
        if progress:
            progress(f"guessing '{name}'")
        out.append(disclosure.attack(table, y.loc[table.index], flag=name))
    return out


def group_sizes(served: Served) -> list[GroupSizes]:
    """Return the k-anonymity of the served households, people and visits.

    Households are grouped on every served column (their point too, as text); people on
    every served column; a visit counts the served households it could belong to, those that
    share its served columns (the grid; the point, or the household id, where served).
    """
    h = served.households
    out = []
    keys = _row_keys(h)
    a = disclosure.anonymity(keys, list(keys.columns))
    out.append(GroupSizes("households", tuple(keys.columns), a.rows, a.k, a.unique_share, a.groups))
    p = _row_keys(served.people)
    a = disclosure.anonymity(p, list(p.columns))
    out.append(GroupSizes("people", tuple(p.columns), a.rows, a.k, a.unique_share, a.groups))
    v = _row_keys(served.visits)
    link = [c for c in v.columns if c in keys.columns and c != "source"]
    if len(v) == 0:
        out.append(GroupSizes("visits", tuple(link), 0, 0, 0.0, 0))
    else:
        if link:
            sizes = keys.groupby(link, dropna=False).size().rename("n")
            n = v[link].merge(sizes, how="left", left_on=link, right_index=True)["n"]
            candidates = n.fillna(0).astype(int).to_numpy()
        else:
            candidates = np.full(len(v), len(h))
        groups = len(v[link].drop_duplicates()) if link else 1
        unique = float((candidates == 1).mean())
        out.append(GroupSizes("visits", tuple(link), len(v), int(candidates.min()), unique, groups))
    return out


def _row_keys(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the served columns of ``frame`` as hashable values, the point as ``point``."""
    geometry = getattr(frame, "_geometry_column_name", None)
    out = pd.DataFrame(
        {c: frame[c] for c in frame.columns if c not in (geometry, privacy.VERSION_COLUMN)},
        index=frame.index,
    )
    if geometry in frame.columns:
        out["point"] = [
            ""
            if g is None or g.is_empty
            else f"{g.x:.7f},{g.y:.7f}"
            if g.geom_type == "Point"
            else g.wkt
            for g in frame[geometry]
        ]
    return out


def _today(ws: Workspace, today: date | None) -> date:
    if today is not None:
        return today
    generated = ws.get_meta("generated")
    if isinstance(generated, dict) and isinstance(generated.get("today"), str):
        try:
            return date.fromisoformat(generated["today"])
        except ValueError:
            pass
    return date.today()


def check(
    ws: Workspace, *, today: date | None = None, progress: Callable[[str], None] | None = None
) -> PrivacyReport:
    """Attack the masked views of the workspace's own register; report every hidden flag.

    Parameters
    ----------
    ws
        The workspace (only read).
    today
        The day the register is read on, for ages in the figures (default: the day a demo
        register was generated for, else today).
    progress
        Called with a short message at each step.

    Returns
    -------
    PrivacyReport
        Per distinct masked view (roles served identical rows and figures share one) the
        verdict on each flag of :data:`FLAGS`, the group sizes of the view, and the verdict on
        each order its ids could give away (:data:`gridmap.service.privacy_order.LINKS`).

    Raises
    ------
    InputError
        The workspace holds no households.
    """
    started = time.perf_counter()
    say = progress or (lambda _message: None)
    day = _today(ws, today)
    say("reading the register")
    stored = read_register(ws)
    households = stored["households"]
    if len(households) == 0:
        raise InputError(
            "This workspace holds no households: there is no register to check. "
            "Import the households (gridmap import WORKSPACE households FILE) first."
        )
    flags = hidden_flags(households, stored["visits"])
    views: list[tuple[list[str], Served]] = []
    for role in masked_roles():
        say(f"serving the register as role {role}")
        served = served_register(ws, stored, Access.of(CHECK_USER, role), today=day)
        for roles, seen in views:
            if seen.same_as(served):
                roles.append(role)
                break
        else:
            views.append(([role], served))
    checks = []
    for roles, served in views:
        say(f"joining what {', '.join(roles)} are served")
        table = clues(served, today=day)
        results = []
        for i, (name, y) in enumerate(flags.items(), 1):
            say(f"guessing '{name}' ({i} of {len(flags)})")
            results.append(_judge(name, y.loc[table.index], table))
        say(f"sorting what {', '.join(roles)} are served by its ids")
        orders = privacy_order.order_checks(stored, served.frames(), served.ids)
        checks.append(
            RoleCheck(tuple(roles), tuple(results), tuple(group_sizes(served)), tuple(orders))
        )
    return PrivacyReport(
        workspace=ws.name,
        today=day,
        households=len(households),
        people=len(stored["people"]),
        visits=len(stored["visits"]),
        checks=tuple(checks),
        seconds=time.perf_counter() - started,
    )
