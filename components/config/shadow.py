"""Shared keys of params.yaml that a family's declared default silently replaces.

A key's value comes from, last one winning: the section class's default, the shared key in params.yaml, the
family's declared default, the family's block (docs/params.md). So `dvc exp run -S model=rnn -S train.lr=0.5`
trains at rnn's declared 0.003. The precedence stays (it keeps every family's numbers); `shadowed_keys` names
such a key so that callers (the params stage, `keel params`, the training flow) can warn. A shared value in
params.yaml equal to the class default is not reported: the stock values are there for the families that
declare none. A key given as an override (`keel train -S`, `load_params(overrides=...)`) is reported whatever its
value: it was asked for. (`dvc exp run -S` writes into params.yaml first, so its keys read as the file's.)
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from pydantic import TypeAdapter, ValidationError

from components.config.sections import SECTIONS, section_schema
from components.families.family import Family


def shadowed_keys(raw: dict[str, Any], family: Family, source: str = "params.yaml",
                  overridden: Collection[str] = ()) -> list[str]:
    """One line per shared key of `raw` (params.yaml's mapping, overrides applied) that `family`'s declared
    default replaces (its block `<section>.<family>` does not set it) with another value: a key in `overridden`
    (dotted) always, one from the file when its value is not the section class's default."""
    out = []
    for section in SECTIONS:
        values = raw.get(section)
        declared = family.defaults.get(section) or {}
        if not isinstance(values, dict) or not declared:
            continue
        block = values.get(family.name)
        block = block if isinstance(block, dict) else {}
        fields = section_schema(section, family.kind).model_fields
        for key in sorted((set(values) & set(declared) & set(fields)) - set(block)):
            adapter = TypeAdapter(fields[key].rebuild_annotation())
            shared, default = _plain(adapter, values[key]), _plain(adapter, declared[key])
            given = f"{section}.{key}" in overridden  # asked for: said whatever its value
            stock = shared == _plain(adapter, fields[key].get_default(call_default_factory=True))
            if shared == default or (stock and not given):
                continue
            fix = f"{section}.{family.name}.{key}"
            if given:
                out.append(f"{section}.{key}: -S {section}.{key}={values[key]} asks for {shared!r}, but family "
                           f"{family.name}'s default {default!r} wins; give -S {fix}={values[key]} instead")
            else:
                out.append(f"{section}.{key}: {source} sets {shared!r}, but family {family.name}'s default "
                           f"{default!r} wins; set {fix} to change it")
    return out


def _plain(adapter: TypeAdapter, value: Any) -> Any:
    """`value` as the field holds it, in JSON types (1 and 1.0, a tuple and a list compare equal)."""
    try:
        return adapter.dump_python(adapter.validate_python(value), mode="json")
    except ValidationError:
        return value
