"""params.yaml resolved for the selected family: `load_params(path) -> Params`, the only YAML reader.

Each section (ingest, validate, features, train, evaluate, register, promote, monitor) holds shared keys and, per
family, a block named after it. A family's value of a key comes from, last one winning: the section's
config class, the shared key in params.yaml, the family's declared default (components/families), the
family's block in params.yaml. In `train.<family>`, keys that TrainConfig does not have are the family's
architecture (its config class in components/models). Unknown or mistyped keys fail loudly with the dotted
key named, and every family's view is validated on load, not only the selected one's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from components.config.monitor import MonitorConfig
from components.config.sections import (
    SECTIONS,
    EvaluateConfig,
    FeaturesConfig,
    IngestConfig,
    PromoteConfig,
    RegisterConfig,
    TrainConfig,
    ValidateConfig,
    section_schema,
)
from components.config.shadow import shadowed_keys
from components.core.errors import ParamsError
from components.core.io import sha256_json
from components.core.strict import Strict
from components.families.family import Family
from components.families.registry import families, get


class Params(BaseModel):
    """params.yaml resolved for the selected family: each stage's config, ready to pass to it."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    model: str
    kind: str
    task: str
    ingest: IngestConfig
    validation: ValidateConfig
    features: FeaturesConfig
    train: TrainConfig
    arch: Strict
    evaluate: EvaluateConfig
    registration: RegisterConfig
    promote: PromoteConfig
    monitor: MonitorConfig
    # shared keys of the file a family default replaces (components/config/shadow.py): callers warn, not a value
    shadowed: tuple[str, ...] = ()

    def registered_name(self, dataset: str) -> str:
        """The MLflow registered-model name: `register.model_name`, else `<dataset>-<architecture or family>`."""
        return self.registration.model_name or f"{dataset}-{get(self.model).registered_as}"

    def to_dict(self) -> dict[str, Any]:
        """The resolved values, in params.yaml's shape (the family's architecture under train.<family>)."""
        out: dict[str, Any] = {"model": self.model}
        for section, attr in SECTIONS.items():
            out[section] = getattr(self, attr).model_dump(mode="json")
        out["train"][self.model] = self.arch.model_dump(mode="json")
        return out

    def digest(self) -> str:
        """sha256 of the resolved params: what this family's model is actually trained with."""
        return sha256_json(self.to_dict())


def load_params(path: Path | str = "params.yaml", overrides: dict[str, Any] | None = None) -> Params:
    """Read and validate params.yaml; `overrides` maps dotted keys to values (like `dvc exp run -S`)."""
    return parse_params(read_params_file(path, overrides), source=str(path), overridden=set(overrides or ()))


def read_params_file(path: Path | str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The raw mapping in params.yaml, with dotted-key overrides applied."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: params file not found")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ParamsError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: top level must be a mapping of sections, got {type(raw).__name__}")
    for key, value in (overrides or {}).items():
        _set_dotted(raw, key, value)
    return raw


def parse_params(raw: dict[str, Any], source: str = "params", overridden: set[str] | None = None) -> Params:
    """Validate a params mapping for every family; resolve it for the selected one (`overridden`: the dotted
    keys given as overrides, named as such when a family default shadows one)."""
    known = families()
    problems: dict[str, list[str]] = {}  # message -> families it applies to
    for k in sorted(set(raw) - set(SECTIONS) - {"model"}):
        problems[f"{k}: unknown key (sections: model, {', '.join(SECTIONS)})"] = list(known)
    model = raw.get("model", "cnn")
    if model not in known:
        problems[f"model: unknown family {model!r} (known: {', '.join(known)})"] = list(known)
    views: dict[str, dict[str, Strict]] = {}
    for family in known.values():
        views[family.name] = {}
        for section in SECTIONS:
            cfg, errs = _resolve(raw.get(section) or {}, section, family, set(known))
            for e in errs:
                problems.setdefault(e, []).append(family.name)
            views[family.name].update(cfg or {})
    if problems:
        lines = [m if len(fams) == len(known) or f".{fams[0]}." in m else f"{m} [for {', '.join(fams)}]"
                 for m, fams in problems.items()]
        raise ParamsError(f"{source}: invalid params:\n  " + "\n  ".join(lines))
    v, family = views[model], known[model]
    return Params(model=model, kind=family.kind, task=family.task, arch=v["arch"],
                  shadowed=tuple(shadowed_keys(raw, family, Path(source).name, overridden or set())),
                  **{a: v[s] for s, a in SECTIONS.items()})


def _resolve(section: Any, name: str, family: Family, names: set[str]) -> tuple[dict[str, Strict] | None, list[str]]:
    """Merge the family's defaults and its `<name>.<family>` block over the shared keys of one section."""
    if not isinstance(section, dict):
        return None, [f"{name}: must be a mapping, got {type(section).__name__}"]
    shared = {k: v for k, v in section.items() if k not in names}
    block = section.get(family.name) or {}
    if not isinstance(block, dict):
        return None, [f"{name}.{family.name}: must be a mapping, got {type(block).__name__}"]
    defaults = dict(family.defaults.get(name, {}))
    merged = defaults | block
    schema = section_schema(name, family.kind)
    own = {k: v for k, v in merged.items() if k in schema.model_fields}
    where = {k: f"{name}.{family.name}" + ("" if k in block else " (family default)") for k in merged}
    out: dict[str, Strict] = {}
    errors = _validate(schema, shared | own, name, family.name, where)
    if name == "train":
        arch = {k: v for k, v in merged.items() if k not in schema.model_fields}
        errors += _validate(family.config, arch, name, family.name, where, out, "arch")
    else:
        errors += [f"{name}.{family.name}.{k}: unknown key for a {family.kind} family"
                   + (" (family default)" if k not in block else "") for k in sorted(set(merged) - set(own))]
    if not errors:
        out[name] = schema.model_validate(shared | own)
    return (None if errors else out), errors


def _validate(schema: type[Strict], data: dict[str, Any], name: str, family: str, where: dict[str, str],
              out: dict[str, Strict] | None = None, key: str | None = None) -> list[str]:
    """Validate `data` against `schema`; errors name the dotted key (`where` says which came from the block)."""
    try:
        obj = schema.model_validate(data)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            loc = [str(p) for p in err["loc"]]
            # a key from the family's block (or its defaults) is named there; a missing one the family must supply
            block = where.get(loc[0]) if loc else None
            prefix = (block or f"{name}.{family}").split(" ")[0] if block or err["type"] == "missing" else name
            dotted = ".".join([prefix, *loc]) if loc else prefix
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
            # a check across keys (no loc: the model's own) gets the whole block as input: its message names the values
            got = "" if err["type"] in ("extra_forbidden", "missing") or not loc else f" (got {err.get('input')!r})"
            note = " (family default)" if block and block.endswith("(family default)") else ""
            problems.append(f"{dotted}: {msg}{got}{note}")
        return problems
    if out is not None and key is not None:
        out[key] = obj
    return []


def _set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    node = raw
    *parents, leaf = dotted.split(".")
    for p in parents:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ParamsError(f"override {dotted}: {p} is not a section")
    node[leaf] = value
