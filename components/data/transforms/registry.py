"""A saved transform's `kind` -> its class."""

from __future__ import annotations

from typing import Any

from components.core.errors import StageInputError
from components.data.transforms.detection import DetectionTransform
from components.data.transforms.image import ClusterTransform, ImageTransform
from components.data.transforms.image_file import ImageFileTransform
from components.data.transforms.series import SeriesTransform
from components.data.transforms.tabular import TabularTransform
from components.data.transforms.text import TextTransform
from components.data.transforms.video import VideoTransform

Transform = (ImageTransform | TabularTransform | ClusterTransform | SeriesTransform | TextTransform
             | ImageFileTransform | DetectionTransform | VideoTransform)

# data kind (or "kind:task" where a task needs its own) -> transform class; a new data kind adds its class here.
TRANSFORMS: dict[str, type[Any]] = {"image": ImageTransform, "tabular": TabularTransform,
                                    "image:clustering": ClusterTransform, "series": SeriesTransform,
                                    "text": TextTransform, "image_file": ImageFileTransform,
                                    "detection": DetectionTransform, "video": VideoTransform}


def load_transform(data: dict[str, Any]) -> Any:
    """Rebuild a fitted transform from its saved dict (the `kind` field picks the class)."""
    kind = data.get("kind")
    if kind not in TRANSFORMS:
        raise StageInputError(f"saved transform has unknown kind {kind!r} (known: {', '.join(TRANSFORMS)})")
    return TRANSFORMS[kind].model_validate(data)
