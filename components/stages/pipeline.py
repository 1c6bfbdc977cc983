"""The pipeline, in order: ingest -> validate -> features -> train -> evaluate -> register.

Each stage module declares its `STAGE` once (components/stages/spec.py): its `run`, its path arguments
(inputs, outputs, state) and what the flow adds; the params each stage reads are its view
(components/config/views.py). dvc.yaml (dvcyaml.py), the CLI (__main__.py) and the Prefect flow are built
from these declarations.
"""

from __future__ import annotations

from components.stages import evaluate, features, ingest, register, train, validate
from components.stages.spec import ORDER, Stage

STAGES: tuple[Stage, ...] = (ingest.STAGE, validate.STAGE, features.STAGE, train.STAGE, evaluate.STAGE,
                             register.STAGE)
BY_NAME: dict[str, Stage] = {s.name: s for s in STAGES}
assert tuple(BY_NAME) == ORDER, "components.stages.spec.ORDER lists the stage modules in pipeline order"
