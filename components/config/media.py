"""Params sections of the media data kinds: `image_file` (a folder of encoded images), `detection` (images +
boxes) and `video` (clips). Per kind: how ingest reads or generates the data, what validate checks, what the
transform does. `sections.section_schema` picks them by kind (`MEDIA`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from components.config.sections import FeaturesConfig, IngestConfig, ValidateConfig
from components.core.strict import Fraction, PositiveInt, Strict

Pool = Literal["digits", "fashion"]  # scikit-learn digits (8x8) | Fashion-MNIST (28x28, Debian dataset-fashion-mnist)
Side = Annotated[int, Field(ge=1, le=16384)]


class SplitSizes(Strict):
    """How many examples a generated source draws per split (from disjoint source images)."""

    n_train: PositiveInt
    n_val: PositiveInt
    n_test: PositiveInt
    seed: int = 0


# ---- generated sources -------------------------------------------------------------------------


class PhotoConfig(Strict):
    """`keel:photos`: real images (digits or Fashion-MNIST) written as a folder `<class>/*.png|jpg` of RGB and
    gray images of varied sizes, then read back like a team's own folder."""

    pool: Pool = "digits"
    per_class: PositiveInt = 150
    min_side: Annotated[int, Field(ge=8)] = 20
    max_side: Annotated[int, Field(ge=8)] = 48
    gray_fraction: Fraction = 0.2  # saved as 1-channel PNG
    jpeg_fraction: Fraction = 0.1  # saved as RGB JPEG
    seed: int = 0


class SceneConfig(SplitSizes):
    """`keel:scenes`: canvases holding several real images (digits and/or Fashion-MNIST) with exact boxes,
    varied scale, overlap (box IoU up to `max_overlap`), unannotated clutter and noise."""

    n_train: PositiveInt = 3000
    n_val: PositiveInt = 300
    n_test: PositiveInt = 1000
    pools: list[Pool] = Field(default_factory=lambda: ["digits"], min_length=1)
    canvas: Annotated[int, Field(ge=16, le=512)] = 64
    channels: Literal[1, 3] = 1
    min_objects: Annotated[int, Field(ge=0)] = 1
    max_objects: PositiveInt = 5
    min_size: Annotated[int, Field(ge=4)] = 12
    max_size: Annotated[int, Field(ge=4)] = 28
    aspect_jitter: Fraction = 0.15  # height = size * U(1 - j, 1 + j)
    max_overlap: Annotated[float, Field(ge=0.0, le=1.0)] = 0.2  # max IoU between two objects' boxes
    max_clutter: Annotated[int, Field(ge=0)] = 2  # unannotated partial crops / strokes per scene
    noise: Annotated[float, Field(ge=0.0)] = 6.0  # max std of the Gaussian pixel noise, gray levels

    @model_validator(mode="after")
    def _ranges(self):
        if self.min_objects > self.max_objects or self.min_size > self.max_size:
            raise ValueError("need min_objects <= max_objects and min_size <= max_size")
        if round(self.max_size * (1 + self.aspect_jitter)) + 1 > self.canvas:
            raise ValueError(f"max_size {self.max_size} (with aspect jitter) does not fit a {self.canvas} px canvas")
        if len(set(self.pools)) != len(self.pools):
            raise ValueError(f"pools must be distinct, got {self.pools}")
        return self


class ClipConfig(SplitSizes):
    """`keel:crossings`: H.264 MP4 clips in which two real images cross the frame one after the other; the label
    is the pair of directions in time order (left-left, left-right, right-left, right-right), which no single
    frame and no bag of frames reveals."""

    n_train: PositiveInt = 2000
    n_val: PositiveInt = 400
    n_test: PositiveInt = 800
    pool: Pool = "digits"
    height: Annotated[int, Field(ge=16, multiple_of=2)] = 64  # yuv420p needs even sides
    width: Annotated[int, Field(ge=16, multiple_of=2)] = 64
    n_frames: Annotated[int, Field(ge=8, multiple_of=2)] = 32  # two halves, one crossing each
    fps: PositiveInt = 25
    min_size: Annotated[int, Field(ge=4)] = 20  # object side, pixels
    max_size: Annotated[int, Field(ge=4)] = 28
    min_steps: Annotated[int, Field(ge=2)] = 8  # frames a crossing takes, at least
    max_drift: Annotated[int, Field(ge=0)] = 1  # vertical drift, pixels per frame
    distractor: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5  # share of clips with a static extra object
    crf: Annotated[int, Field(ge=0, le=51)] = 20  # libx264 quality

    @model_validator(mode="after")
    def _fit(self):
        if self.min_size > self.max_size or self.max_size > min(self.height, self.width) // 2:
            raise ValueError("need min_size <= max_size <= min(height, width) / 2")
        if self.min_steps > self.n_frames // 2 - 2:
            raise ValueError("min_steps must leave a blank frame before and after each crossing")
        return self


class DecodeConfig(Strict):
    """How ingest (and the registered model) decodes a clip: `frames` frames, resized to height x width."""

    frames: PositiveInt = 16
    height: PositiveInt = 32
    width: PositiveInt = 32
    channels: Literal[1, 3] = 1  # 1: gray (luma), 3: RGB
    fps: Annotated[float, Field(gt=0.0)] | None = None  # null: `frames` spread over the whole clip; else resampled


# ---- per-kind sections -------------------------------------------------------------------------


class ImageFileIngestConfig(IngestConfig):
    """`ingest.source`: a folder `<root>/<class>/*` of PNG/JPEG files, or `keel:photos`."""

    photos: PhotoConfig = PhotoConfig()


class DetectionIngestConfig(IngestConfig):
    """`ingest.source`: a COCO-style folder (`annotations.json` + `images/`, docs/data-sources.md) or `keel:scenes`."""

    scenes: SceneConfig = SceneConfig()


class VideoIngestConfig(IngestConfig):
    """`ingest.source`: a folder `<root>/<label>/*.mp4`, a CSV of `path,label[,split]`, or `keel:crossings`."""

    clips: ClipConfig = ClipConfig()
    decode: DecodeConfig = DecodeConfig()


class ImageFileValidateConfig(ValidateConfig):
    """Every image decodes, has 1 (gray) or 3 (RGB) channels and sides within bounds; labels are known."""

    labels: list[int | str] = Field(min_length=2)
    channels: list[Literal[1, 3]] = Field(default_factory=lambda: [1, 3], min_length=1)
    min_side: Side = 8
    max_side: Side = 4096

    @model_validator(mode="after")
    def _sides(self):
        if self.min_side > self.max_side:
            raise ValueError(f"min_side ({self.min_side}) must not exceed max_side ({self.max_side})")
        return self


class DetectionValidateConfig(ImageFileValidateConfig):
    """The image checks, and per box: inside its image, positive area, a known label."""

    labels: list[int | str] = Field(min_length=1)


class VideoValidateConfig(ValidateConfig):
    """Every clip decodes, with fps, frame count and frame size (source resolution) within bounds."""

    labels: list[int | str] = Field(min_length=2)
    fps: tuple[float, float] = (5.0, 120.0)
    min_frames: PositiveInt = 8
    frame_size: tuple[PositiveInt, PositiveInt] | None = None  # exact [height, width] of the source frames
    min_side: Side = 16
    max_side: Side = 4096


class ImageFileFeaturesConfig(FeaturesConfig):
    """The transform: decoded, converted to `channels`, resized to `image_size` [height, width], normalised
    per channel with the train split's mean and std."""

    image_size: tuple[PositiveInt, PositiveInt] = (32, 32)
    channels: Literal[1, 3] = 3


class DetectionFeaturesConfig(ImageFileFeaturesConfig):
    """Images resized to `image_size` (boxes scaled with them, predictions scaled back); what the registered
    model returns: boxes after per-class NMS at `nms_iou`, at most `max_dets`, scored at least
    `score_threshold` (both can be changed per call); evaluation keeps candidates down to `min_score`."""

    image_size: tuple[PositiveInt, PositiveInt] = (64, 64)
    channels: Literal[1, 3] = 1
    score_threshold: Annotated[float, Field(ge=0.0, le=1.0)] = 0.3
    nms_iou: Annotated[float, Field(gt=0.0, le=1.0)] = 0.5
    max_dets: PositiveInt = 100
    min_score: Annotated[float, Field(ge=0.0, le=1.0)] = 0.01

    @model_validator(mode="after")
    def _stride(self):
        if any(s % 8 for s in self.image_size):
            raise ValueError(f"image_size {list(self.image_size)}: both sides must be multiples of 8")
        return self


# kind -> section -> config class (the sections a media kind extends)
MEDIA: dict[str, dict[str, type[Strict]]] = {
    "image_file": {"ingest": ImageFileIngestConfig, "validate": ImageFileValidateConfig,
                   "features": ImageFileFeaturesConfig},
    "detection": {"ingest": DetectionIngestConfig, "validate": DetectionValidateConfig,
                  "features": DetectionFeaturesConfig},
    "video": {"ingest": VideoIngestConfig, "validate": VideoValidateConfig, "features": FeaturesConfig},
}
