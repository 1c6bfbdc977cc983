"""Shared keys of params.yaml that a family's declared default silently replaces.

A key's value comes from, last one winning: the section class's default, the shared key in params.yaml, the
family's declared default, the family's block (docs/params.md). So `dvc exp run -S model=rnn -S train.lr=0.5`
trains at rnn's declared 0.003. The precedence stays (it keeps every family's numbers); `shadowed_keys` names
such a key so that callers (the params stage, `keel params`, the training flow) can warn. A shared value equal
to the class default is not reported: params.yaml's stock values are there for the families that declare none.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from components.config.sections import SECTIONS, section_schema
from components.families.family import Family


def shadowed_keys(raw: dict[str, Any], family: Family, source: str = "params.yaml") -> list[str]:
    """One line per shared key of `raw` (params.yaml's mapping) whose value differs from its section class's
    default and is replaced by `family`'s declared default (its block `<section>.<family>` does not set it)."""
    out = []
    for section in SECTIONS:
        values = raw.get(section)
        declared = family.defaults.get(section) or {}
        if not isinstance(values, dict) or not declared:
            continue
        block = values.get(family.name)
        block = block if isinstance(block, dict) else {}
        fields = section_schema(section, family.kind).model_fields
        for key in sorted(set(values) & set(declared) & set(fields) - set(block)):
            adapter = TypeAdapter(fields[key].rebuild_annotation())
            shared, default = _plain(adapter, values[key]), _plain(adapter, declared[key])
            if shared not in (default, _plain(adapter, fields[key].get_default(call_default_factory=True))):
                out.append(f"{section}.{key}: {source} sets {shared!r}, but family {family.name}'s default "
                           f"{default!r} wins; set {section}.{family.name}.{key} to change it")
    return out


def _plain(adapter: TypeAdapter, value: Any) -> Any:
    """`value` as the field holds it, in JSON types (1 and 1.0, a tuple and a list compare equal)."""
    try:
        return adapter.dump_python(adapter.validate_python(value), mode="json")
    except ValidationError:
        return value
