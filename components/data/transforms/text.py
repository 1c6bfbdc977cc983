"""Texts -> token ids with a vocabulary fitted on the train split."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Literal

import numpy as np
import pandas as pd

from components.core.columns import TEXT
from components.core.errors import StageInputError
from components.data.pii import redact
from components.data.transforms.base import FittedTransform, sorted_classes

PAD, UNK = 0, 1  # reserved token ids; vocabulary words start at 2
TOKEN_PATTERN = r"[a-z0-9']+"  # a token: a lower-cased run of letters, digits and apostrophes


class TextTransform(FittedTransform):
    """A raw `text` column -> int64 token ids (N, max_len), padded with 0; unknown tokens are 1.

    Tokens are lower-cased runs of letters, digits and apostrophes. The vocabulary holds the train split's
    tokens seen at least `min_freq` times (the `max_vocab` most frequent when capped), sorted by count.
    A text with no known-or-unknown token at all (e.g. only punctuation) becomes one UNK token, so every
    row has a length of at least 1.
    """

    kind: Literal["text"] = "text"
    columns: list[str] = [TEXT]
    vocab: list[str]
    max_len: int
    pattern: str = TOKEN_PATTERN
    redact: list[str] = []  # PII kinds replaced by <EMAIL>, <PHONE>, ... before tokenizing (validate.pii: redact)
    source_column: str | None = None  # the text column's name in the training data (ingest.text_column)

    @classmethod
    def fit(cls, train: pd.DataFrame, manifest: dict[str, Any], task: str = "classification",
            cfg: Any = None) -> TextTransform:
        """Fit the vocabulary on the train split's texts; `cfg` (TextFeaturesConfig) sets min_freq/max_len."""
        min_freq, max_vocab, max_len = (cfg.min_freq, cfg.max_vocab, cfg.max_len) if cfg is not None else (2, None, 64)
        proto = cls(vocab=[], max_len=max_len)
        counts = Counter(t for s in proto._texts(train) for t in proto.tokenize(s))
        kept = sorted((w for w, n in counts.items() if n >= min_freq), key=lambda w: (-counts[w], w))
        return cls(vocab=kept[:max_vocab], max_len=max_len, classes=sorted_classes(train),
                   redact=manifest.get("pii_redact", {}).get(TEXT, []), source_column=manifest.get("text_column"))

    @property
    def renames(self) -> dict[str, str]:
        """A caller may send the text under the column name the training data had (`ingest.text_column`)."""
        return {self.source_column: TEXT} if self.source_column and self.source_column != TEXT else {}

    def tokenize(self, text: str) -> list[str]:
        """One text -> its tokens."""
        return re.findall(self.pattern, text.lower())

    def _texts(self, df: pd.DataFrame) -> list[str]:
        self._require(df, self.columns)
        values = df[TEXT].tolist()
        bad = [i for i, v in enumerate(values) if not isinstance(v, str)]
        if bad:
            raise StageInputError(f"column {TEXT!r}: {len(bad)} value(s) are not strings, first at row {bad[0]} "
                                  f"({values[bad[0]]!r})")
        if self.redact:  # the same redaction as the training data had, at serving time too
            values = [redact(v, self.redact) for v in values]
        return values

    def features(self, df: pd.DataFrame) -> np.ndarray:
        """Raw texts -> (N, max_len) int64 token ids, 0-padded at the end."""
        index = {w: i + 2 for i, w in enumerate(self.vocab)}
        texts = self._texts(df)
        out = np.full((len(texts), self.max_len), PAD, dtype=np.int64)
        for row, text in enumerate(texts):
            ids = [index.get(t, UNK) for t in self.tokenize(text)][:self.max_len] or [UNK]
            out[row, :len(ids)] = ids
        return out

    def targets(self, df: pd.DataFrame) -> np.ndarray:
        return self.class_indices(df)

    def model_kwargs(self) -> dict[str, Any]:
        """The embedding's size for the family's build."""
        return {"vocab_size": self.vocab_size}

    @property
    def vocab_size(self) -> int:
        """Embedding rows: the words + PAD + UNK."""
        return len(self.vocab) + 2

    @property
    def n_outputs(self) -> int:
        return len(self.classes or [])
