"""Measure what a masked view gives away: group sizes, and how well a flag can be guessed.

Three measures, all on plain frames (numpy and pandas only):

* :func:`anonymity` — k-anonymity of a table on its visible quasi-identifiers: the smallest
  group of rows that look alike, and the share of rows alone in their group.
* :func:`attack` — a cross-validated classifier, trained on what a reader sees, that guesses a
  hidden yes/no flag for rows it was not trained on. Its held-out AUC (0.5 is chance) and
  accuracy (against always guessing the commoner answer) say whether the flag can be read
  back. :func:`null_auc_sd` gives the spread of that AUC when nothing is to be learnt.
* :func:`id_order` — the id-order attack: sort the rows by the ids they were served (or by
  their place in the reply) and read a hidden order off them — a visit's household, a
  household's room — within the groups the reader sees anyway (the grid, the building).

The classifiers are deliberately simple and strong on this kind of data: a group-rate lookup
table (the flag's rate among training rows with the same feature values, smoothed towards the
overall rate), naive Bayes over every feature, and each numeric feature taken as the score
itself (a published per-grid share, say). The tables treat every value as a category.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridmap.errors import InputError

#: How far above chance (0.5) a held-out AUC may lie, in null standard deviations
#: (:func:`null_auc_sd`): about 80 classifier-flag pairs are tried, and the largest of 80 AUCs
#: of scores that carry no information stays below 4 sd with probability above 99.7 %.
Z_BOUND = 4.0
#: The least margin above chance the bound allows: what figures over whole grids may give. A
#: count over ~400 households includes the household guessed, so the per-grid migrant share
#: ranks households with migrant visits higher 52 times in 100 (4.3 sd of that large class). A
#: clue on the household's own row does far more: rented homes give 0.62 for elderly_alone,
#: column-by-column masking 0.79 to 1.0.
AUC_FLOOR = 0.03
#: How much better than always giving the commoner answer a held-out guess may be (a share of
#: the rows: 40 of 20,913 households).
ACCURACY_MARGIN = 0.002
#: The least rank correlation :func:`id_order` counts as an order read back, whatever the
#: number of rows: the same margin above chance as :data:`AUC_FLOOR` (a Spearman correlation
#: of r moves the AUC of a median split by about r / 3, so 0.03 is the stricter of the two).
RHO_FLOOR = 0.03


@dataclass(frozen=True)
class Anonymity:
    """Group sizes of a table on its quasi-identifiers.

    Attributes
    ----------
    rows
        Rows of the table.
    k
        The smallest group: every row looks like at least ``k - 1`` others (0 for no rows).
    unique_share
        The share of rows alone in their group (0 to 1).
    groups
        Distinct combinations of the quasi-identifiers.
    """

    rows: int
    k: int
    unique_share: float
    groups: int


def anonymity(frame: pd.DataFrame, columns: Sequence[str]) -> Anonymity:
    """Return the k-anonymity of ``frame`` on ``columns`` (missing values form their own group).

    With no columns, every row looks like every other: ``k`` is the number of rows.
    """
    n = len(frame)
    if n == 0:
        return Anonymity(0, 0, 0.0, 0)
    if not columns:
        return Anonymity(n, n, 1.0 if n == 1 else 0.0, 1)
    group = _codes(frame[list(columns)]).to_numpy()
    sizes = np.bincount(group)
    return Anonymity(n, int(sizes.min()), float((sizes[group] == 1).mean()), len(sizes))


def auc(scores: Iterable[float], labels: Iterable[bool]) -> float:
    """Return the area under the ROC curve of ``scores`` for ``labels`` (ties count half).

    The Mann-Whitney statistic: the chance that a random positive row scores above a random
    negative one. 0.5 is guessing; NaN if either class is empty.
    """
    s = np.asarray(list(scores), dtype=float)
    y = np.asarray(list(labels), dtype=bool)
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return math.nan
    ranks = pd.Series(s).rank(method="average").to_numpy()
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def null_auc_sd(positives: int, negatives: int) -> float:
    """Return the standard deviation of the AUC of scores that carry no information.

    For continuous scores independent of the labels the Mann-Whitney statistic has variance
    ``(n1 + n0 + 1) / (12 n1 n0)``; tied scores (lookup tables have many) only lower it, so
    this is an upper bound on the spread of a held-out AUC when nothing can be learnt.
    """
    return math.sqrt((positives + negatives + 1) / (12 * positives * negatives))


def _folds(n: int, folds: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).permutation(np.arange(n) % folds)


def _codes(features: pd.DataFrame) -> pd.Series:
    """Return one integer code per row for the combination of its feature values."""
    if features.shape[1] == 0:
        return pd.Series(np.zeros(len(features), dtype=np.int64), index=features.index)
    codes = pd.DataFrame(
        {c: pd.factorize(features[c], use_na_sentinel=False)[0] for c in features.columns}
    )
    return pd.Series(codes.groupby(list(codes.columns)).ngroup().to_numpy(), index=features.index)


def group_rate_scores(
    features: pd.DataFrame, labels: pd.Series, *, folds: int = 5, seed: int = 0, prior: float = 2.0
) -> np.ndarray:
    """Return held-out scores of the group-rate classifier (cross-validated, ``folds`` folds).

    A row's score is the flag's rate among the training rows that share all its feature values,
    smoothed towards the training rate with ``prior`` pseudo-rows; the training rate for a
    combination no training row has.
    """
    y = labels.to_numpy(dtype=float)
    codes = _codes(features).to_numpy()
    fold = _folds(len(y), folds, seed)
    out = np.empty(len(y))
    for f in range(folds):
        train = fold != f
        base = y[train].mean()
        hits = np.bincount(codes[train], weights=y[train], minlength=codes.max() + 1)
        seen = np.bincount(codes[train], minlength=codes.max() + 1)
        rate = (hits + prior * base) / (seen + prior)
        out[~train] = rate[codes[~train]]
    return out


def naive_bayes_scores(
    features: pd.DataFrame, labels: pd.Series, *, folds: int = 5, seed: int = 0
) -> np.ndarray:
    """Return held-out log-odds of naive Bayes over every column of ``features`` (Laplace 1)."""
    y = labels.to_numpy(dtype=bool)
    fold = _folds(len(y), folds, seed)
    columns = [pd.factorize(features[c], use_na_sentinel=False)[0] for c in features.columns]
    out = np.zeros(len(y))
    for f in range(folds):
        train = fold != f
        n1 = y[train].sum()
        n0 = train.sum() - n1
        score = np.full((~train).sum(), math.log((n1 + 1) / (n0 + 1)))
        for codes in columns:
            size = codes.max() + 1
            c1 = np.bincount(codes[train & y], minlength=size)
            c0 = np.bincount(codes[train & ~y], minlength=size)
            loglik = np.log((c1 + 1) / (n1 + size)) - np.log((c0 + 1) / (n0 + size))
            score += loglik[codes[~train]]
        out[~train] = score
    return out


def direct_scores(
    values: pd.Series, labels: pd.Series, *, folds: int = 5, seed: int = 0
) -> np.ndarray:
    """Return held-out scores that are a numeric clue itself, turned the way training rows say.

    No table is learnt: the clue (a published share, a count) is the score, negated in a fold
    where it ranks the training rows' flags the wrong way round; missing values score the
    training median. This catches what a lookup table cannot: a figure computed over a group
    that includes the very row being guessed.
    """
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    y = labels.to_numpy(dtype=bool)
    fold = _folds(len(y), folds, seed)
    out = np.empty(len(y))
    for f in range(folds):
        train = fold != f
        median = np.nanmedian(x[train]) if np.isfinite(x[train]).any() else 0.0
        filled = np.where(np.isnan(x), median, x)
        sign = 1.0 if auc(filled[train], y[train]) >= 0.5 else -1.0
        out[~train] = sign * filled[~train]
    return out


@dataclass(frozen=True)
class AttackResult:
    """How well a hidden flag is guessed from visible features, on held-out rows.

    Attributes
    ----------
    flag
        The flag guessed.
    positives, rows
        Rows with the flag, and all rows.
    auc
        The best held-out AUC over the classifiers tried (0.5 is chance).
    accuracy
        The best held-out accuracy over the classifiers tried, each guessing the flag where its
        score says it is likelier than not.
    majority
        Accuracy of always guessing the commoner answer.
    best
        Which classifier and features gave ``auc``.
    null_sd
        :func:`null_auc_sd` for these class sizes.
    features
        ``(feature, AUC)`` of every feature on its own (the best of the classifiers that use
        it alone), the most telling first: where to look when the flag can be read back.
    """

    flag: str
    positives: int
    rows: int
    auc: float
    accuracy: float
    majority: float
    best: str
    null_sd: float
    features: tuple[tuple[str, float], ...] = ()

    @property
    def z(self) -> float:
        """Return how many null standard deviations the AUC lies above chance."""
        return (self.auc - 0.5) / self.null_sd

    @property
    def bound(self) -> float:
        """Return the highest AUC that is still chance: 0.5 + max(Z_BOUND sd, AUC_FLOOR)."""
        return 0.5 + max(Z_BOUND * self.null_sd, AUC_FLOOR)

    @property
    def read_back(self) -> bool:
        """Return whether the flag can be read back: the AUC reaches :attr:`bound`, or the
        guesses beat always giving the commoner answer by more than :data:`ACCURACY_MARGIN`."""
        return self.auc >= self.bound or self.accuracy > self.majority + ACCURACY_MARGIN

    @property
    def strongest(self) -> tuple[str, float] | None:
        """Return the feature that tells most on its own and its AUC (None: no features)."""
        return self.features[0] if self.features else None


def attack(
    features: pd.DataFrame,
    labels: pd.Series,
    *,
    flag: str = "",
    subsets: Sequence[Sequence[str]] | None = None,
    folds: int = 5,
    seed: int = 0,
) -> AttackResult:
    """Guess ``labels`` from ``features`` with every classifier of this module; keep the best.

    Parameters
    ----------
    features
        One row per record, aligned with ``labels``: text features are categories, numeric
        ones are categories for the tables and scores of their own as well.
    labels
        The hidden yes/no flag of each row.
    flag
        Its name, for the result.
    subsets
        Feature combinations for the group-rate classifier (default: each feature alone and all
        together); naive Bayes always uses every feature.
    folds, seed
        Cross-validation: rows are split at random into ``folds`` folds, each guessed by a
        classifier trained on the others.
    """
    y = labels.astype(bool).reset_index(drop=True)
    x = features.reset_index(drop=True)
    positives = int(y.sum())
    if not 0 < positives < len(y):
        raise InputError(
            f"Cannot measure how well '{flag or 'the flag'}' is guessed: it needs rows with "
            f"and rows without it ({positives} of {len(y)} have it)."
        )
    if subsets is None:
        subsets = [[c] for c in x.columns] + ([list(x.columns)] if x.shape[1] > 1 else [])
    # (name, the one feature it uses or None, scores, guesses)
    tried: list[tuple[str, str | None, np.ndarray, np.ndarray]] = []
    for cols in subsets or [[]]:
        p = group_rate_scores(x[list(cols)], y, folds=folds, seed=seed)
        one = cols[0] if len(cols) == 1 else None
        tried.append((f"group rate on {', '.join(cols) or 'nothing'}", one, p, p >= 0.5))
    if x.shape[1]:
        lo = naive_bayes_scores(x, y, folds=folds, seed=seed)
        one = x.columns[0] if x.shape[1] == 1 else None
        tried.append(("naive Bayes on all", one, lo, lo >= 0.0))
    for name in x.columns:
        if pd.api.types.is_numeric_dtype(x[name]) and not pd.api.types.is_bool_dtype(x[name]):
            d = direct_scores(x[name], y, folds=folds, seed=seed)
            tried.append((f"{name} itself", name, d, np.zeros(len(d), dtype=bool)))
    truth = y.to_numpy()
    scored = [
        (auc(s, truth), name, one, float((guess == truth).mean())) for name, one, s, guess in tried
    ]
    best_auc, best, _, _ = max(scored, key=lambda t: t[0])
    alone: dict[str, float] = {}
    for value, _, one, _ in scored:
        if one is not None:
            alone[one] = max(value, alone.get(one, 0.0))
    rate = positives / len(y)
    return AttackResult(
        flag=flag,
        positives=positives,
        rows=len(y),
        auc=best_auc,
        accuracy=max(t[3] for t in scored),
        majority=max(rate, 1 - rate),
        best=best,
        null_sd=null_auc_sd(positives, len(y) - positives),
        features=tuple(sorted(alone.items(), key=lambda t: -t[1])),
    )


@dataclass(frozen=True)
class OrderResult:
    """How well the order of served ids places rows on an order the reader should not see.

    Two ways to read an order back, both within the groups the reader sees anyway: the served
    order follows the hidden one (``rho``), or rows next to each other in the served order are
    next to each other in the hidden one too (``closeness``: a register written in several
    passes — visits month after month, each month household by household — is not in
    household order overall, but its neighbours are neighbours).

    Attributes
    ----------
    link
        What was guessed (``visits → household``).
    rows
        Rows in groups of two or more (the only ones an order can place).
    groups
        Such groups.
    rho
        The Spearman correlation, within groups and pooled, of the served order and the
        hidden one (0 is chance, 1 the same order).
    rho_sd
        Its standard deviation when the served order is random (exact for pooled groups).
    closeness
        1 - (mean hidden distance between neighbours in the served order) / (the same in a
        random order): 0 is chance, 1 every neighbour a next-door one.
    closeness_sd
        Its spread over random orders (shuffled within groups).
    gap
        The median distance, in ranks of the hidden order, between neighbours in the served
        order (``visit ids 1-8 belong to household ranks 8, 11, 14, 15, …``: about 3).
    chance_gap
        The same in a random order.
    """

    link: str
    rows: int
    groups: int
    rho: float
    rho_sd: float
    closeness: float
    closeness_sd: float
    gap: float
    chance_gap: float

    @property
    def rho_bound(self) -> float:
        """Return the largest correlation that is still chance: max(Z_BOUND sd, RHO_FLOOR)."""
        return max(Z_BOUND * self.rho_sd, RHO_FLOOR)

    @property
    def closeness_bound(self) -> float:
        """Return the largest closeness that is still chance: max(Z_BOUND sd, RHO_FLOOR)."""
        return max(Z_BOUND * self.closeness_sd, RHO_FLOOR)

    @property
    def read_back(self) -> bool:
        """Return whether the served order gives the hidden one away, either way."""
        return abs(self.rho) >= self.rho_bound or self.closeness >= self.closeness_bound


def _gaps(
    order: np.ndarray, group: np.ndarray, hidden: np.ndarray, span: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return the hidden distance between neighbours of ``order`` in one group: in ranks, and
    as a share of the group's span."""
    g, h, w = group[order], hidden[order], span[order]
    same = g[1:] == g[:-1]
    gap = np.abs(h[1:] - h[:-1])[same]
    return gap, gap / w[1:][same]


def id_order(
    served: Sequence[object] | pd.Series,
    hidden: Sequence[object] | pd.Series,
    groups: Sequence[object] | pd.Series | None = None,
    *,
    link: str = "",
    seed: int = 0,
    shuffles: int = 20,
) -> OrderResult:
    """Measure how well the order of ``served`` gives away the order of ``hidden``.

    Parameters
    ----------
    served
        What the reader can sort the rows by: the ids they were served (numbers sort as
        numbers, text as text) or each row's place in the reply.
    hidden
        A value per row the reader must not learn the order of (the row's household, its
        room), sortable; rows may share one (visits of one household).
    groups
        What the reader already knows of each row (its grid, its building): the attack only
        has to place rows within their group. None: one group.
    link
        A name for the result.
    seed, shuffles
        The random orders that give the spread of :attr:`OrderResult.closeness` and the
        chance gap.
    """
    s = pd.Series(list(served))
    h = pd.Series(list(hidden))
    g = pd.Series(list(groups)) if groups is not None else pd.Series(np.zeros(len(s), dtype=int))
    if not len(s) == len(h) == len(g):
        raise InputError("id_order needs one served id, one hidden value and one group per row.")
    g = g.astype(str)
    kept = (g.map(g.value_counts()) > 1).to_numpy()
    s, h, g = s[kept].reset_index(drop=True), h[kept].reset_index(drop=True), g[kept]
    g = g.reset_index(drop=True)
    n, k = len(s), int(g.nunique())
    if n - k < 2:
        return OrderResult(link, n, k, 0.0, math.inf, 0.0, math.inf, 0.0, 0.0)
    rs = s.groupby(g).rank(method="average")
    rh = h.groupby(g).rank(method="average")
    cs = rs - rs.groupby(g).transform("mean")
    ch = rh - rh.groupby(g).transform("mean")
    ss, sh = (cs * cs).groupby(g).sum(), (ch * ch).groupby(g).sum()
    den = math.sqrt(float(ss.sum()) * float(sh.sum()))
    rho = float((cs * ch).sum()) / den if den > 0 else 0.0
    m = g.value_counts().reindex(ss.index)
    rho_sd = math.sqrt(float((ss * sh / (m - 1)).sum())) / den if den > 0 else math.inf
    group = pd.factorize(g)[0]
    dense = (h.groupby(g).rank(method="dense") - 1).to_numpy(dtype=float)
    span = np.maximum(h.groupby(g).transform("nunique").to_numpy(dtype=float) - 1, 1)
    ranked = s.rank(method="first").to_numpy()
    gap, share = _gaps(np.lexsort((ranked, group)), group, dense, span)
    rng = np.random.default_rng(seed)
    null = [_gaps(np.lexsort((rng.random(n), group)), group, dense, span) for _ in range(shuffles)]
    means = np.array([x[1].mean() for x in null])
    chance = float(means.mean())
    return OrderResult(
        link=link,
        rows=n,
        groups=k,
        rho=rho,
        rho_sd=rho_sd,
        closeness=1 - float(share.mean()) / chance if chance > 0 else 0.0,
        closeness_sd=float((means / chance).std(ddof=1)) if chance > 0 else math.inf,
        gap=float(np.median(gap)),
        chance_gap=float(np.median(np.concatenate([x[0] for x in null]))),
    )
