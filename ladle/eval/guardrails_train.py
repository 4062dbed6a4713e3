"""`ladle guardrails train`: the injection and toxicity detectors, rebuilt reproducibly (fixed seeds)
from the dev half of the outside labelled sets (/work/shared/evaldata) and the menu negatives
made from the sample catalog.

Model: logistic regression (scikit-learn) over shared.guardrails.learned's features. Its
regularisation C and its threshold are chosen by an inner cross-validation: the threshold with
the best F1 among those that flag at most ``max_benign_fpr`` of benign texts and
``max_menu_fpr`` of menu texts. ``folds`` > 1 also runs that whole choice inside an outer
K-fold split (nested CV) and reports the outer folds' predictions: the figures to quote.
The menu texts are grouped by dish, so one dish's name and description never straddle a fold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ladle.eval import guardrails_sets as sets
from shared.guardrails import learned
from shared.settings import REPO_ROOT

MODELS = REPO_ROOT / "deploy" / "guardrails" / "models"
SEED = 20261202
C_GRID = (0.03, 0.1, 0.3, 1.0)
LIMITS = {"injection": (0.02, 0.01), "toxicity": (1.0, 0.01)}  # (benign FPR, menu FPR) at most: the goals
# ordinary user questions (TruthfulQA) must pass the gateway's toxicity check: a flagged one is a rejected request
QUESTIONS = {"toxicity": ("ordinary_question", 0.02)}


@dataclass
class Data:
    check: str
    texts: list[str]
    y: np.ndarray  # bool: attack / toxic
    kind: list[str]  # "dev" | "menu"
    group: list[str]  # subtype or category (dev), dish (menu)
    x: np.ndarray | None = None


def load(check: str, evaldata: Path = sets.EVALDATA) -> Data:
    rows = sets.read_jsonl(evaldata / f"{check}.jsonl")
    key = "subtype" if check == "injection" else "category"
    texts = [r["text"] for r in rows]
    y = [sets.POSITIVE[r["label"]] for r in rows]
    group = [str(r.get(key, "")) for r in rows]
    menu = sets.menu_texts()
    return Data(
        check, texts + [t for _, t in menu], np.array(y + [False] * len(menu)),
        ["dev"] * len(rows) + ["menu"] * len(menu), group + [g for g, _ in menu],
    )  # fmt: skip


def features(data: Data) -> np.ndarray:
    if data.check == "injection":
        return learned.injection_features(data.texts)
    from shared.guardrails import context

    allow = gateway_allow()
    texts = [allow.sub(" ", t) if allow else t for t in data.texts]  # as the check reads them
    prof = [float(p) for p in context.profanity_model().predict_prob(texts)]
    return learned.toxicity_features(data.texts, prof)


def gateway_allow():
    """The gateway policy's toxicity `allow` phrases as the check compiles them (None when there are none)."""
    import re

    from shared.guardrails.policy import load_policies

    cfg = next(c for c in load_policies().policy("gateway").checks if c.check == "toxicity")
    words = sorted(cfg.allow, key=len, reverse=True)
    return re.compile("|".join(re.escape(w) for w in words), re.I) if words else None


def _fit(x: np.ndarray, y: np.ndarray, c: float):
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    lr = LogisticRegression(C=c, class_weight="balanced", max_iter=2000, random_state=SEED)
    lr.fit((x - mean) / scale, y)
    return mean, scale, lr.coef_[0], float(lr.intercept_[0])


def _prob(model, x: np.ndarray) -> np.ndarray:
    mean, scale, coef, bias = model
    return 1.0 / (1.0 + np.exp(-np.clip(((x - mean) / scale) @ coef + bias, -50, 50)))


def _folds(data: Data, idx: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified K folds of ``idx``; menu texts go by dish group, dev texts one by one."""
    from sklearn.model_selection import StratifiedGroupKFold

    groups = [f"menu:{data.group[i]}" if data.kind[i] == "menu" else f"dev:{i}" for i in idx]
    labels = [f"{data.kind[i]}:{int(data.y[i])}" for i in idx]
    split = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return [(idx[a], idx[b]) for a, b in split.split(np.zeros(len(idx)), labels, groups)]


# the gateway policy's `threshold`s: the injection patterns' noisy-or and the profanity model's probability
# still fire on their own beside the trained model (the patterns held precision 0.99 on outside data; the
# profanity model only where it is sure)
ALSO = {"injection": 0.55, "toxicity": 0.9}


def also_fires(data: Data, idx: np.ndarray) -> np.ndarray:
    """Where the check fires whatever the model says: the column just before the text features at ALSO."""
    col = len(data.x[0]) - len(learned.TEXT_FEATURES) - 1  # pattern:noisy_or | profanity
    return data.x[idx, col] >= ALSO[data.check]


def choose_threshold(data: Data, idx: np.ndarray, prob: np.ndarray) -> tuple[float, float]:
    """(threshold, F1 on dev texts) with the best F1 under the FPR limits; prob aligned with idx."""
    also = also_fires(data, idx)
    max_benign, max_menu = LIMITS[data.check]
    y = data.y[idx]
    dev = np.array([data.kind[i] == "dev" for i in idx])
    menu = ~dev
    group, max_questions = QUESTIONS.get(data.check, ("", 1.0))
    questions = np.array([data.group[i] == group and data.kind[i] == "dev" for i in idx])
    best = (1.0, -1.0)
    for t in np.unique(np.round(prob, 4)):
        fired = (prob >= t) | also
        benign = dev & ~y
        if benign.any() and fired[benign].mean() > max_benign:
            continue
        if menu.any() and fired[menu].mean() > max_menu:
            continue
        if questions.any() and fired[questions].mean() > max_questions:
            continue
        f1 = sets.prf(y[dev], fired[dev])[2]
        if f1 > best[1] or (f1 == best[1] and t > best[0]):
            best = (float(t), f1)
    return best


def select(data: Data, idx: np.ndarray, inner: int = 3) -> tuple[float, float]:
    """(C, threshold) by inner CV on ``idx``: out-of-fold probabilities per C, best constrained F1."""
    best = (C_GRID[0], 0.5, -1.0)
    folds = _folds(data, idx, inner, SEED + 1)
    for c in C_GRID:
        oof = np.zeros(len(data.y))
        for tr, te in folds:
            oof[te] = _prob(_fit(data.x[tr], data.y[tr], c), data.x[te])
        t, f1 = choose_threshold(data, idx, oof[idx])
        if f1 > best[2]:
            best = (c, t, f1)
    return best[0], best[1]


def nested_cv(data: Data, k: int, progress: Callable[[str], None] = lambda _: None) -> dict:
    """Outer K folds: choose C and threshold on the training part (inner CV), score the held-out part."""
    idx = np.arange(len(data.y))
    fired = np.zeros(len(idx), dtype=bool)
    prob = np.zeros(len(idx))
    for n, (tr, te) in enumerate(_folds(data, idx, k, SEED), start=1):
        c, t = select(data, tr)
        prob[te] = _prob(_fit(data.x[tr], data.y[tr], c), data.x[te])
        fired[te] = (prob[te] >= t) | also_fires(data, te)
        progress(f"{data.check}: outer fold {n}/{k} C={c} threshold={t:.3f}")
    dev = np.array([k == "dev" for k in data.kind])
    y = data.y
    report = {
        "check": data.check, "data": "shared/evaldata dev half + menu negatives (sample catalog, tricky dishes)",
        "split": f"nested {k}-fold CV (inner 3-fold picks C and threshold)",
        **sets.binary_report(y[dev], fired[dev]),
        "benign_fpr": sets.rate(fired[dev & ~y]), "menu_fpr": sets.rate(fired[~dev]),
        "per_group": sets.per_group([g for g, d in zip(data.group, dev, strict=True) if d], y[dev], fired[dev]),
    }  # fmt: skip
    return report


def train(check: str, folds: int = 0, progress: Callable[[str], None] = lambda _: None, out: Path = MODELS) -> dict:
    """Fit on everything (C and threshold from CV), save the artifact; with folds, nested-CV figures too."""
    data = load(check)
    progress(f"{check}: embedding {len(data.texts)} texts")
    data.x = features(data)
    report = nested_cv(data, folds, progress) if folds > 1 else {"check": check}
    idx = np.arange(len(data.y))
    c, t = select(data, idx, inner=5)
    mean, scale, coef, bias = _fit(data.x, data.y, c)
    dim = (data.x.shape[1] - (len(learned.pattern_names()) + len(learned.TEXT_FEATURES))) if check == "injection" else (
        data.x.shape[1] - 1 - len(learned.TEXT_FEATURES))  # fmt: skip
    names = learned.injection_feature_names(dim) if check == "injection" else learned.toxicity_feature_names(dim)
    meta = (f"logistic regression C={c} class_weight=balanced seed={SEED}; threshold by 5-fold CV (max F1 with benign "
            f"FPR<={LIMITS[check][0]}, menu FPR<={LIMITS[check][1]}, {QUESTIONS.get(check, ('', 1.0))}); trained on {int((~data.y).sum())} negatives "
            f"and {int(data.y.sum())} positives")  # fmt: skip
    learned.LinearModel(coef, bias, mean, scale, t, names, meta).save(out / f"{check}.npz")
    report.update({"artifact": str((out / f"{check}.npz").relative_to(REPO_ROOT)) if out.is_relative_to(REPO_ROOT)
                   else str(out / f"{check}.npz"), "C": c, "threshold": round(t, 4)})  # fmt: skip
    return report


def build_pii_lexicon(out: Path | None = None) -> dict:
    """deploy/guardrails/models/pii_lexicon.json: given and family names of every Faker locale written in
    Latin letters, minus words that the dev texts (injection, toxicity, paraphrase) and the menu write in
    lower case at least twice (may, will, rose, grant...); and the words of the menu's dishes. Needs
    faker (the dev extra); deterministic: Faker's lists are data, nothing is sampled."""
    import importlib
    import json
    import re
    from collections import Counter

    from shared.guardrails.checks import pii_spans

    try:
        from faker.config import AVAILABLE_LOCALES
    except ImportError:
        from shared.runtime.errors import UserError

        raise UserError("building the PII lexicon needs faker: pip install -e '.[dev]'") from None
    found: set[str] = set()
    for loc in sorted(AVAILABLE_LOCALES):
        try:
            provider = importlib.import_module(f"faker.providers.person.{loc}").Provider
        except ImportError:
            continue
        for attr in ("first_names", "first_names_male", "first_names_female", "first_names_nonbinary",
                     "last_names", "last_names_male", "last_names_female"):  # fmt: skip
            v = next((b.__dict__[attr] for b in provider.__mro__ if attr in b.__dict__), None)
            if isinstance(v, dict):
                v = list(v)
            if isinstance(v, list | tuple):
                found.update(x for x in v if isinstance(x, str))
    latin = re.compile(r"^[A-Za-zÀ-ÖØ-öø-ɏ'’ -]+$")
    names = {n.lower() for n in found if latin.match(n) and n[:1].isupper() and len(n) >= 2}
    lower: Counter[str] = Counter()
    texts = [
        r.get("text", "") for f in ("injection", "toxicity") for r in sets.read_jsonl(sets.EVALDATA / f"{f}.jsonl")
    ]
    texts += [r[k] for r in sets.read_jsonl(sets.EVALDATA / "paraphrase.jsonl") for k in ("a", "b")]
    menu = [t for _, t in sets.menu_texts()]
    for t in texts + menu:
        lower.update(w for w in re.findall(r"\b[a-z][a-z'-]+\b", t))
    common = {w for w, c in lower.items() if c >= 2}
    food = set()
    for t in menu:
        food.update(w.lower() for w in re.findall(r"[^\W\d_]+", t))
    from spacy.lang.en.stop_words import STOP_WORDS

    food -= set(STOP_WORDS) | {"size", "family", "ct", "lb", "oz", "pack", "served", "serves", "fresh", "house"}
    food -= {w for w in pii_spans.TITLES}
    food = {w for w in food if not pii_spans.STREET_WORD.fullmatch(w)}  # "Bangkok Street Kitchen" is a store
    names = sorted(names - common - food)
    path = out or MODELS / "pii_lexicon.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "meta": "names: Faker person providers (all locales, Latin script) minus common lower-case words of the "
        "dev texts; food: words of the sample catalog and tricky dishes",
        "names": names,
        "food": sorted(food),
        "common": sorted(w for w in common if w not in names),
    }
    path.write_text(json.dumps(body, ensure_ascii=False, separators=(",", ":")) + "\n")
    return {"artifact": str(path), "names": len(names), "food": len(food), "dropped_common": len(common)}
